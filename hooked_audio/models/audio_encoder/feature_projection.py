"""The feature projection: conv features (512 channels) -> the transformer's width."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.components import LayerNorm


class FeatureProjection(nn.Module):
    """`ln(x) @ W_proj + b_proj`, with `W_proj [conv_dim, d_model]`; `ln` is a LayerNorm over
    the conv channels, or None (HuBERT with `feat_proj_layer_norm=False`)."""

    def __init__(self, conv_dim: int, d_model: int, eps: float, layer_norm: bool):
        super().__init__()
        self.ln: LayerNorm | None = LayerNorm(conv_dim, eps=eps) if layer_norm else None
        self.W_proj = nn.Parameter(torch.empty(conv_dim, d_model))
        self.b_proj = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Float[Tensor, "batch pos conv_dim"]) -> Float[Tensor, "batch pos d_model"]:
        if self.ln is not None:
            x = self.ln(x)
        return F.linear(x, self.W_proj.T, self.b_proj)
