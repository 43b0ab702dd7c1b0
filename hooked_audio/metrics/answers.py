"""Find the answer of a minimal pair: the first token where two transcripts diverge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from jaxtyping import Float, Int
from torch import Tensor

from hooked_audio.metrics.logit_diff import LogitDiff

if TYPE_CHECKING:
    from hooked_audio.models.whisper import HookedWhisper


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


def _one_mel(model: HookedWhisper, audio: Tensor, name: str) -> Float[Tensor, "n_mels mel_frames"]:
    mel = model.to_mel_input(audio)
    if mel.shape[0] != 1:
        raise ValueError(
            f"answer_from_transcripts takes one clip per audio; {name} has batch "
            f"{mel.shape[0]}. Find each pair's answer separately."
        )
    return mel[0]


def answer_from_transcripts(
    model: HookedWhisper,
    clean_audio: Float[Tensor, "1 n_mels mel_frames"] | Float[Tensor, "1 2 n_mels pos"],
    corrupt_audio: Float[Tensor, "1 n_mels mel_frames"] | Float[Tensor, "1 2 n_mels pos"],
) -> PairAnswer:
    """Greedy-decode both audios with openai-whisper's own decoder and return the first token
    where the transcripts differ, as a `PairAnswer` (tokens, position, correct, incorrect).

    `clean_audio` / `corrupt_audio`: log-mel `[1, n_mels, 3000]` (`model.to_mel`) or frames
    `[1, 2, n_mels, 1500]`. Decoding uses `whisper.decode` with `greedy_options(model)`
    (temperature 0, no timestamps, fp16 as the model's dtype, English for `.en` models or
    `model.language`, and `model.task`); the transcripts are compared with `<|endoftext|>`
    appended, so a transcript that stops early differs at its end. Whisper's logit filters
    (suppressed tokens) apply during decoding, so the correct token is the clean argmax among
    allowed tokens and `answer.metric()` is >= 0 on the clean
    logits. Raises ValueError when the transcripts are identical: the corruption did not change
    the output; pick another corruption, or a metric that does not need a changed answer
    (e.g. `KLDivergence` to the clean logits).
    """
    import whisper

    clean_mel = _one_mel(model, clean_audio, "clean_audio")
    corrupt_mel = _one_mel(model, corrupt_audio, "corrupt_audio")
    from hooked_audio.models.whisper.inference import greedy_options

    options = greedy_options(model)
    clean = whisper.decode(model, clean_mel, options)
    corrupt = whisper.decode(model, corrupt_mel, options)
    eot = model.tokenizer.eot
    clean_ids, corrupt_ids = list(clean.tokens) + [eot], list(corrupt.tokens) + [eot]
    index = first_difference(clean_ids, corrupt_ids)
    if index is None:
        raise ValueError(
            f"The clean and corrupt transcripts are identical ({clean.text!r}): the corruption did "
            "not change the output, so there is no answer token. Pick another corruption (longer, "
            "or over a different word), or a metric that does not need a changed answer, such as "
            "KLDivergence to the clean logits."
        )
    prefix = model.start_tokens() + clean_ids[:index]
    tokens = torch.tensor([prefix], dtype=torch.long, device=model.device)
    return PairAnswer(
        tokens=tokens,
        position=len(prefix) - 1,
        correct=clean_ids[index],
        incorrect=corrupt_ids[index],
        clean_text=clean.text,
        corrupt_text=corrupt.text,
    )


__all__ = ["PairAnswer", "answer_from_transcripts", "first_difference"]
