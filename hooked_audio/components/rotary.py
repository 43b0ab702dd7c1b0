"""Rotary position embedding (RoPE) in the half-split layout of Qwen2 and Llama."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn


def default_inv_freq(d_head: int, base: float) -> Float[Tensor, " half"]:
    """The original RoPE frequencies `base ** (-2i / d_head)`."""
    return 1.0 / (base ** (torch.arange(0, d_head, 2, dtype=torch.float) / d_head))


class RotaryEmbedding(nn.Module):
    """cos/sin tables for position ids, and their application to queries or keys.

    The frequencies are a buffer: a loaded model keeps the exact `inv_freq` (and
    `attention_scaling`) of its checkpoint's RoPE variant (default, linear, YaRN, Llama 3, ...),
    which the checkpoint's own code computed; here they are only applied.
    """

    inv_freq: Float[Tensor, " half"]  # a buffer

    def __init__(self, inv_freq: Float[Tensor, " half"], attention_scaling: float = 1.0):
        super().__init__()
        self.register_buffer("inv_freq", inv_freq.float().clone(), persistent=False)
        self.attention_scaling = attention_scaling

    def forward(
        self, position_ids: Int[Tensor, "batch pos"], dtype: torch.dtype
    ) -> tuple[Float[Tensor, "batch pos d_head"], Float[Tensor, "batch pos d_head"]]:
        freqs = position_ids[..., None].float() * self.inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        return (
            (angles.cos() * self.attention_scaling).to(dtype),
            (angles.sin() * self.attention_scaling).to(dtype),
        )

    @staticmethod
    def rotate(
        x: Float[Tensor, "batch pos head d_head"], cos: Tensor, sin: Tensor
    ) -> Float[Tensor, "batch pos head d_head"]:
        """`x * cos + rotate_half(x) * sin`, with `rotate_half(a, b) = (-b, a)`."""
        first, second = x.chunk(2, dim=-1)
        return x * cos[:, :, None] + torch.cat((-second, first), dim=-1) * sin[:, :, None]
