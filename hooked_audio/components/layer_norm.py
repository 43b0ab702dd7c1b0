"""LayerNorm with TransformerLens's hooks and parameter names (`w`, `b`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint


class LayerNorm(nn.Module):
    """Pre-LayerNorm as in Whisper: computed in float32 and cast back (as openai-whisper does).

    Splitting the normalisation into `hook_scale` and `hook_normalized` lets users freeze the
    scale (the standard trick for linearising a LayerNorm in attribution work). When nothing
    listens to `hook_scale`, the fused `F.layer_norm` kernel computes the same normalisation
    (openai-whisper's own call; ~3x faster on CPU than the spelled-out steps, which were half of
    the forward's overhead over openai-whisper's in `benchmarks/run_benchmarks.py`); the two
    paths agree to float32 rounding.
    """

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.w = nn.Parameter(torch.ones(d_model))
        self.b = nn.Parameter(torch.zeros(d_model))
        self.hook_scale = AudioHookPoint()  # [batch, pos, 1]
        self.hook_normalized = AudioHookPoint()  # [batch, pos, d_model]

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        dtype = x.dtype
        x = x.float()
        if not self.hook_scale.has_listeners():
            x = F.layer_norm(x, x.shape[-1:], self.w.float(), self.b.float(), self.eps)
            return self.hook_normalized(x.to(dtype))
        x = x - x.mean(-1, keepdim=True)
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())
        x = x / scale
        x = x * self.w.float() + self.b.float()
        return self.hook_normalized(x.to(dtype))
