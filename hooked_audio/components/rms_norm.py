"""RMSNorm with TransformerLens's hooks and parameter name (`w`), as Qwen2 and Llama use it."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint


class RMSNorm(nn.Module):
    """`w * x / sqrt(mean(x^2) + eps)`: normalised in float32, cast back, then scaled by `w`
    in the input dtype (the order HF's Qwen2/Llama RMSNorm uses, which matters in fp16)."""

    def __init__(self, d_model: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.w = nn.Parameter(torch.ones(d_model))
        self.hook_scale = AudioHookPoint()  # [batch, pos, 1]
        self.hook_normalized = AudioHookPoint()  # [batch, pos, d_model]

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        dtype = x.dtype
        x = x.float()
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())
        return self.hook_normalized(self.w * (x / scale).to(dtype))
