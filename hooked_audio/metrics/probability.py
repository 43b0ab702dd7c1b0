"""Log-probability, probability and accuracy of a token (or token set) at one decoder position."""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

from hooked_audio.metrics._common import (
    Tokens,
    as_float,
    check_logits,
    check_per_example,
    check_position,
    gather_set,
    normalise_tokens,
    reduce_batch,
    resolve_position,
    token_matrix,
)


@dataclass(frozen=True, eq=False)
class _TokenMetric:
    position: int
    tokens: Tokens
    per_example: bool = False

    def __post_init__(self) -> None:
        who = type(self).__name__
        object.__setattr__(self, "position", check_position(self.position, who))
        check_per_example(self.per_example, who)
        object.__setattr__(self, "tokens", normalise_tokens(self.tokens, "tokens", who))

    def _row_and_ids(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        who = type(self).__name__
        logits = check_logits(logits, who)
        batch, n_tokens, d_vocab = logits.shape
        pos = resolve_position(self.position, n_tokens, who)
        ids = token_matrix(self.tokens, batch, d_vocab, logits.device, "tokens", who)
        return as_float(logits[:, pos]), ids


@dataclass(frozen=True, eq=False)
class LogProb(_TokenMetric):
    """`log P(tokens)` at decoder position `position` (log-softmax over the vocabulary).

    Sign: always <= 0; 0 means all probability mass is on `tokens`; higher is more likely.
    A token SET (a sequence of ids) is scored by the logsumexp of its log-probabilities, the
    log of its total probability. `tokens` may also be an integer tensor `[batch]` / `[batch, k]`
    of per-example ids. Logits at index `i` predict token `i + 1`: to score the token at index
    `j`, use `position = j - 1`. `per_example=False`: batch mean (scalar); `True`: `[batch]`.
    Computed in at least float32.
    """

    def __call__(self, logits: Float[Tensor, "batch n_tokens d_vocab"]) -> Tensor:
        row, ids = self._row_and_ids(logits)
        return reduce_batch(gather_set(row.log_softmax(dim=-1), ids), self.per_example)


@dataclass(frozen=True, eq=False)
class Probability(_TokenMetric):
    """`P(tokens)` at decoder position `position`: `exp(LogProb)`, in [0, 1].

    A token SET gets its total probability. With `per_example=False` this is the batch mean of
    the per-example probabilities (not exp of the mean log-probability). Same position and
    token conventions as `LogProb`.
    """

    def __call__(self, logits: Float[Tensor, "batch n_tokens d_vocab"]) -> Tensor:
        row, ids = self._row_and_ids(logits)
        return reduce_batch(gather_set(row.log_softmax(dim=-1), ids).exp(), self.per_example)


@dataclass(frozen=True, eq=False)
class Accuracy(_TokenMetric):
    """1.0 where the argmax (greedy) token at `position` is in `tokens`, else 0.0.

    Higher is better; `per_example=False` gives the fraction of the batch that is correct.
    Ties follow `torch.argmax` (first maximal id). Not differentiable. Same position and
    token conventions as `LogProb`.
    """

    def __call__(self, logits: Float[Tensor, "batch n_tokens d_vocab"]) -> Tensor:
        row, ids = self._row_and_ids(logits)
        hit = (row.argmax(dim=-1, keepdim=True) == ids).any(dim=-1)
        return reduce_batch(hit.to(row.dtype), self.per_example)


__all__ = ["Accuracy", "LogProb", "Probability"]
