"""The positional convolution: a wide grouped conv over the embedded positions, then GELU.

Checkpoints store its kernel weight-normalised (`weight = g * v / ||v||`); the loader
computes that effective kernel once and stores it here as a plain parameter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn


class PositionalConv(nn.Module):
    """`gelu(conv(x))` with `weight [d_model, d_model / groups, kernel]`, `bias [d_model]`,
    zero padding `kernel // 2` on each side, and the last output dropped when `kernel` is even
    so that there is one output per position."""

    def __init__(self, d_model: int, kernel: int, groups: int):
        super().__init__()
        self.kernel, self.groups = kernel, groups
        self.weight = nn.Parameter(torch.empty(d_model, d_model // groups, kernel))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        out = F.conv1d(
            x.transpose(1, 2),
            self.weight.to(x.dtype),
            self.bias.to(x.dtype),
            padding=self.kernel // 2,
            groups=self.groups,
        )
        if self.kernel % 2 == 0:
            out = out[:, :, :-1]
        return F.gelu(out).transpose(1, 2)
