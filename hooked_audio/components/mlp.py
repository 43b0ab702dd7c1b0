"""Two-layer GELU MLP in TransformerLens layout (`W_in [d_model, d_mlp]`,
`W_out [d_mlp, d_model]`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint


class GeluMLP(nn.Module):
    """`W_out(gelu(x @ W_in + b_in)) + b_out` with the exact (erf) GELU Whisper uses."""

    def __init__(self, d_model: int, d_mlp: int):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(d_model, d_mlp))
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = nn.Parameter(torch.empty(d_mlp, d_model))
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.hook_pre = AudioHookPoint()  # [batch, pos, d_mlp]
        self.hook_post = AudioHookPoint()  # [batch, pos, d_mlp]

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        # addmm-style kernels on the transposed view are as fast as nn.Linear's own.
        pre = self.hook_pre(F.linear(x, self.W_in.T, self.b_in))
        post = self.hook_post(F.gelu(pre))
        return F.linear(post, self.W_out.T, self.b_out)
