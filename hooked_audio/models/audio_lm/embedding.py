"""Token embedding and unembedding with TransformerLens's names (`embed.W_E`, `unembed.W_U`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn


class Embed(nn.Module):
    def __init__(self, d_vocab: int, d_model: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(d_vocab, d_model))

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        check_in_vocabulary(tokens, self.W_E.shape[0])
        return F.embedding(tokens, self.W_E)


def check_in_vocabulary(tokens: Int[Tensor, "batch pos"], d_vocab: int) -> None:
    """Refuse ids outside `[0, d_vocab)`: out of range they fail deep inside the embedding
    (an IndexError on CPU, a device-side assert that breaks the CUDA context on a GPU)."""
    if tokens.numel() == 0:
        return
    low, high = int(tokens.min()), int(tokens.max())
    if low >= 0 and high < d_vocab:
        return
    bad = (tokens < 0) | (tokens >= d_vocab)
    where = tuple(int(i) for i in bad.nonzero()[0])
    hint = (
        " Negative ids are often label padding (-100) or an unset pad id, which belong in "
        "labels or attention_mask, not input_ids."
        if low < 0
        else " Ids past the vocabulary come from another checkpoint's tokenizer."
    )
    raise ValueError(
        f"input_ids must lie in [0, {d_vocab}) (the model's vocabulary); got ids from {low} to "
        f"{high}, the first bad one at (batch, pos) {where}.{hint} Build inputs with the model's "
        "own processor: `model.prepare_inputs(...)`."
    )


class Unembed(nn.Module):
    """`x @ W_U + b_U`. Tied checkpoints get their own copy of `W_E.T` (as TransformerLens
    does), so editing one matrix never silently edits the other."""

    def __init__(self, d_model: int, d_vocab: int):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(d_model, d_vocab))
        self.b_U = nn.Parameter(torch.zeros(d_vocab))

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_vocab"]:
        return F.linear(x, self.W_U.T, self.b_U)
