"""Metrics of transcripts rather than logits, for ablation and steering studies: word and
character error rates against references (with `jiwer`), and hallucination on clips without
speech (any words at all, words per second, repetition).

Text is normalised before it is scored, with openai-whisper's `EnglishTextNormalizer` (the one
Whisper's own evaluations use: lower case, punctuation and filler words such as "um" removed,
spellings standardised), so "Hello, world." and "hello world" are the same transcript and a
lone "Um." is no output. `normaliser="basic"` takes its language-neutral `BasicTextNormalizer`
instead; `"none"` scores text as given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jiwer
from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer

#: every transcript metric; the first two need reference transcripts
REFERENCE_METRICS = ("wer", "cer")
TRANSCRIPT_METRICS = (*REFERENCE_METRICS, "hallucination", "words_per_second", "repetition")
NORMALISERS = ("english", "basic", "none")


def text_normaliser(name: str = "english") -> Callable[[str], str]:
    """The normaliser called `name` (one of `NORMALISERS`)."""
    if name == "english":
        return EnglishTextNormalizer()
    if name == "basic":
        return BasicTextNormalizer()
    if name == "none":
        return lambda text: " ".join(text.split())
    raise ValueError(f"Unknown normaliser {name!r}; choose one of {NORMALISERS}.")


def repetition(words: Sequence[str], n: int = 3) -> float:
    """The share of a transcript's word `n`-grams that repeat an earlier one (0 with fewer
    than `n + 1` words): "you you you you" has trigrams (you you you) twice, so 0.5; a looping
    hallucination approaches 1."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def clip_scores(
    transcript: str,
    seconds: float,
    reference: str | None = None,
    normaliser: Callable[[str], str] | None = None,
) -> dict[str, float | int | str]:
    """One clip's scores: `words` (after normalisation), `hallucination` (1 when there is any
    word, for a clip without speech), `words_per_second`, `repetition`, and with a `reference`:
    `ref_words`, `word_errors` (substitutions + deletions + insertions), `ref_chars`,
    `char_errors`, and the clip's own `wer` / `cer` (NaN for an empty reference)."""
    if not seconds > 0:
        raise ValueError(f"A clip's length must be positive, got {seconds} s.")
    normalise = normaliser or text_normaliser()
    hypothesis = normalise(transcript)
    words = hypothesis.split()
    scores: dict[str, float | int | str] = {
        "normalised": hypothesis,
        "words": len(words),
        "hallucination": int(bool(words)),
        "words_per_second": len(words) / seconds,
        "repetition": repetition(words),
    }
    if reference is not None:
        truth = normalise(reference)
        scores.update(_errors(truth, hypothesis))
    return scores


def _errors(truth: str, hypothesis: str) -> dict[str, float | int]:
    """Word and character edit counts of `hypothesis` against `truth` (both normalised)."""
    ref_words = len(truth.split())
    if not truth.split():
        # jiwer refuses an empty reference; every hypothesis word is then an insertion
        inserted = len(hypothesis.split())
        return {
            "ref_words": 0,
            "word_errors": inserted,
            "ref_chars": 0,
            "char_errors": len(hypothesis),
            "wer": math.nan,
            "cer": math.nan,
        }
    words = jiwer.process_words(truth, hypothesis or "")
    chars = jiwer.process_characters(truth, hypothesis or "")
    word_errors = words.substitutions + words.deletions + words.insertions
    char_errors = chars.substitutions + chars.deletions + chars.insertions
    return {
        "ref_words": ref_words,
        "word_errors": word_errors,
        "ref_chars": len(truth),
        "char_errors": char_errors,
        "wer": word_errors / ref_words,
        "cer": char_errors / max(len(truth), 1),
    }
