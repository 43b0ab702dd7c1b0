"""One layer of the conv feature extractor: strided conv, optional norm, GELU."""

from __future__ import annotations

import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint


class ConvLayer(nn.Module):
    """`gelu(norm(conv(x)))` on time-major activations `[batch, time, channels]`.

    `norm` is a `ChannelTimeNorm` (first layer of "group" checkpoints), a `LayerNorm` over
    channels (every layer of "layer" checkpoints) or None. The conv keeps PyTorch's layout
    (`conv.weight [out, in, kernel]`, `conv.bias` or None) as the checkpoints store it.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        bias: bool,
        norm: nn.Module | None,
    ):
        super().__init__()
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size=kernel, stride=stride, bias=bias
        )
        self.norm = norm
        self.hook_out = AudioHookPoint()  # [batch, conv_frame, channels], after GELU

    def forward(
        self, x: Float[Tensor, "batch time in_channels"]
    ) -> Float[Tensor, "batch conv_frame out_channels"]:
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return self.hook_out(F.gelu(x))
