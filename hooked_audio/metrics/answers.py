"""The answer of a minimal pair: the first token where two transcripts diverge, ready for a
metric. `hooked_audio.models.whisper.pair_answer.answer_from_transcripts` finds it from
Whisper's own greedy transcripts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import Int
from torch import Tensor

from hooked_audio.metrics.logit_diff import LogitDiff


def _as_ids(tokens: Tensor | Sequence[int], name: str) -> list[int]:
    if isinstance(tokens, Tensor):
        if tokens.ndim != 1:
            raise ValueError(
                f"first_difference takes 1-D token sequences; {name} has shape "
                f"{tuple(tokens.shape)} (index the batch first, e.g. `tokens[0]`)."
            )
        return [int(t) for t in tokens.tolist()]
    return [int(t) for t in tokens]


def first_difference(
    clean_tokens: Int[Tensor, " n"] | Sequence[int],
    corrupt_tokens: Int[Tensor, " m"] | Sequence[int],
) -> int | None:
    """The first index where two 1-D token sequences differ.

    Compares up to the shorter length; if one is a prefix of the other, the answer is the
    shorter length (the first index only one of them has). None when they are equal.
    """
    clean, corrupt = (
        _as_ids(clean_tokens, "clean_tokens"),
        _as_ids(corrupt_tokens, "corrupt_tokens"),
    )
    for i, (a, b) in enumerate(zip(clean, corrupt)):
        if a != b:
            return i
    return None if len(clean) == len(corrupt) else min(len(clean), len(corrupt))


@dataclass(frozen=True, eq=False)
class PairAnswer:
    """Where a clean/corrupt minimal pair's transcripts first diverge, ready for a metric.

    `tokens` `[1, n]`: the clean transcript's teacher-forcing prefix, the model's
    start-of-transcript prefix (`model.start_tokens()`) followed by the clean tokens before the
    divergence, so `tokens[0, -1]` is the last shared token. `position = n - 1` is the index
    in `tokens` whose logits predict the diverging token (logits at `i` predict token `i + 1`).
    `correct` is the clean run's token there and `incorrect` the corrupt run's (either may be
    `<|endoftext|>` when one transcript stops early). Run both audios on `tokens`:
    `model(clean_mel, answer.tokens)` / `model(corrupt_mel, answer.tokens)`.
    """

    tokens: Int[Tensor, "1 n_tokens"]
    position: int
    correct: int
    incorrect: int
    clean_text: str
    corrupt_text: str

    def metric(self, per_example: bool = False) -> LogitDiff:
        """`LogitDiff(position, correct, incorrect)`: positive when the model prefers the clean
        token; >= 0 on the clean audio (greedy picked it) and <= 0 on the corrupt audio."""
        return LogitDiff(self.position, self.correct, self.incorrect, per_example=per_example)


__all__ = ["PairAnswer", "first_difference"]
