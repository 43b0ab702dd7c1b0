"""Logit difference between a correct and an incorrect answer at one decoder position."""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

from hooked_audio.metrics._common import (
    StoredTokens,
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
class LogitDiff:
    """`logit[correct] - logit[incorrect]` at decoder position `position`.

    Sign: positive when the model prefers `correct`, negative when it prefers `incorrect`;
    swapping the two flips the sign. The difference of logits equals the difference of
    log-probabilities (the softmax normaliser cancels), so it is unaffected by anything that
    shifts every logit equally.

    Position: decoder logits at index `i` predict token `i + 1` (teacher forcing). To score
    the answer token at index `j` of the tokens the model ran on, use `position = j - 1`; to
    score the token that would follow a prompt, `position = -1` (negative positions count from
    the end, as in Python).

    Tokens: `correct` / `incorrect` are each
      - an int: one token id;
      - a sequence of ints: a token SET (e.g. ``[" Americans", " americans"]`` as ids). A set is
        scored by the logsumexp of its logits, i.e. the log of its total probability mass up to
        the softmax normaliser shared by both sides, so the difference is
        ``log P(correct set) - log P(incorrect set)``;
      - an integer tensor `[batch]` (one id per example) or `[batch, k]` (a set per example),
        for batches whose answers differ.
    The two sides must not share a token (the difference would be meaningless).

    `per_example=False` returns the batch mean (a scalar, for TransformerLens patching's
    default `reduce="scalar"`); `True` returns `[batch]` (for `reduce="mean"` / `"none"`).
    Computed in at least float32.
    """

    position: int
    correct: Tokens
    incorrect: Tokens
    per_example: bool = False

    def __post_init__(self) -> None:
        who = type(self).__name__
        object.__setattr__(self, "position", check_position(self.position, who))
        check_per_example(self.per_example, who)
        correct = normalise_tokens(self.correct, "correct", who)
        incorrect = normalise_tokens(self.incorrect, "incorrect", who)
        if not isinstance(correct, Tensor) and not isinstance(incorrect, Tensor):
            shared = _as_set(correct) & _as_set(incorrect)
            if shared:
                raise ValueError(
                    f"{who}: correct and incorrect share token id(s) {sorted(shared)}; "
                    "remove them from one side."
                )
        object.__setattr__(self, "correct", correct)
        object.__setattr__(self, "incorrect", incorrect)

    def __call__(self, logits: Float[Tensor, "batch n_tokens d_vocab"]) -> Tensor:
        """Scalar (batch mean) or `[batch]` when `per_example`."""
        who = type(self).__name__
        logits = check_logits(logits, who)
        batch, n_tokens, d_vocab = logits.shape
        pos = resolve_position(self.position, n_tokens, who)
        row = as_float(logits[:, pos])
        good = token_matrix(self.correct, batch, d_vocab, logits.device, "correct", who)
        bad = token_matrix(self.incorrect, batch, d_vocab, logits.device, "incorrect", who)
        if isinstance(self.correct, Tensor) or isinstance(self.incorrect, Tensor):
            overlap = (good[:, :, None] == bad[:, None, :]).any(dim=(1, 2))
            if overlap.any():
                raise ValueError(
                    f"{who}: correct and incorrect share a token id in example(s) "
                    f"{overlap.nonzero().flatten().tolist()}."
                )
        return reduce_batch(gather_set(row, good) - gather_set(row, bad), self.per_example)


def _as_set(tokens: StoredTokens) -> set:
    return {tokens} if isinstance(tokens, int) else set(tokens)  # type: ignore[arg-type]


__all__ = ["LogitDiff"]
