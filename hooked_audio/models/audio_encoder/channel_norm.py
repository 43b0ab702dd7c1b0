"""The per-channel normalisation over time that follows the first conv layer of the base
wav2vec2 / HuBERT checkpoints (`feat_extract_norm="group"`: a GroupNorm with one group per
channel), on time-major activations."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint


class ChannelTimeNorm(nn.Module):
    """Each channel of each clip normalised over the whole clip: `(x - mean_t) / std_t * w + b`.

    Unlike a LayerNorm, its statistics span every time step, so every sample of the clip
    (padding included) enters every position's value.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.w = nn.Parameter(torch.ones(channels))
        self.b = nn.Parameter(torch.zeros(channels))
        self.hook_scale = AudioHookPoint()  # [batch, 1, channels]
        self.hook_normalized = AudioHookPoint()  # [batch, conv_frame, channels]

    def forward(
        self, x: Float[Tensor, "batch time channels"]
    ) -> Float[Tensor, "batch time channels"]:
        dtype = x.dtype
        x = x.float()
        x = x - x.mean(1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(1, keepdim=True) + self.eps).sqrt())
        x = (x / scale) * self.w.float() + self.b.float()
        return self.hook_normalized(x.to(dtype))
