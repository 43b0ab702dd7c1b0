"""TransformerLens-style stacked weight properties (`W_Q`: `[n_layers, n_heads, d_model,
d_head]`, ...)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def _stack(blocks: Iterable[torch.nn.Module], path: str) -> Tensor:
    def get(block: torch.nn.Module) -> Tensor:
        obj: object = block
        for part in path.split("."):
            obj = getattr(obj, part)
        assert isinstance(obj, Tensor), f"{path} is not a tensor on {type(block).__name__}"
        return obj

    return torch.stack([get(block) for block in blocks], dim=0)


class StackedWeightsMixin:
    """For a module with `blocks`: the weights of every layer stacked on a leading layer axis."""

    blocks: torch.nn.ModuleList

    W_Q = property(lambda self: _stack(self.blocks, "attn.W_Q"))
    W_K = property(lambda self: _stack(self.blocks, "attn.W_K"))
    W_V = property(lambda self: _stack(self.blocks, "attn.W_V"))
    W_O = property(lambda self: _stack(self.blocks, "attn.W_O"))
    b_Q = property(lambda self: _stack(self.blocks, "attn.b_Q"))
    b_K = property(lambda self: _stack(self.blocks, "attn.b_K"))
    b_V = property(lambda self: _stack(self.blocks, "attn.b_V"))
    b_O = property(lambda self: _stack(self.blocks, "attn.b_O"))
    W_in = property(lambda self: _stack(self.blocks, "mlp.W_in"))
    b_in = property(lambda self: _stack(self.blocks, "mlp.b_in"))
    W_out = property(lambda self: _stack(self.blocks, "mlp.W_out"))
    b_out = property(lambda self: _stack(self.blocks, "mlp.b_out"))


class StackedCrossWeightsMixin(StackedWeightsMixin):
    """Adds the decoder's cross-attention weights: `W_Q_cross`, `W_K_cross`, ..."""

    W_Q_cross = property(lambda self: _stack(self.blocks, "cross_attn.W_Q"))
    W_K_cross = property(lambda self: _stack(self.blocks, "cross_attn.W_K"))
    W_V_cross = property(lambda self: _stack(self.blocks, "cross_attn.W_V"))
    W_O_cross = property(lambda self: _stack(self.blocks, "cross_attn.W_O"))
    b_Q_cross = property(lambda self: _stack(self.blocks, "cross_attn.b_Q"))
    b_K_cross = property(lambda self: _stack(self.blocks, "cross_attn.b_K"))
    b_V_cross = property(lambda self: _stack(self.blocks, "cross_attn.b_V"))
    b_O_cross = property(lambda self: _stack(self.blocks, "cross_attn.b_O"))
