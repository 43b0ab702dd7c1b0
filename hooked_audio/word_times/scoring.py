"""How well estimated word times match reference ones: word-start error and F1 at tolerances.

The estimate's words are matched to the reference's by text (`matching.matched_words`); a
reference word is *hit* at tolerance t when it is matched and its estimated start lies within t
of the reference start. Precision is hits over the estimate's words, recall hits over the
reference's, F1 their harmonic mean (as word-boundary benchmarks of forced aligners report at
20, 50 and 100 ms). The start error (mean and median, in ms) is over matched words only, so read
it together with `matched`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hooked_audio.word_times.checks import WordTimes
from hooked_audio.word_times.matching import matched_words, split_words

TOLERANCES_S = (0.02, 0.05, 0.1)


def _starts(words: WordTimes) -> tuple[list[str], list[float]]:
    """Single words and their starts: the words of a multi-word entry (`"in the"`) each take
    the entry's start, so each is scored against it."""
    single, entry = split_words([w for w, _, _ in words])
    starts = [words[i][1] for i in entry]
    return single, starts


def start_errors(reference: WordTimes, estimate: WordTimes) -> np.ndarray:
    """Signed start error (estimate - reference, seconds) of every matched word."""
    ref_words, ref_starts = _starts(reference)
    est_words, est_starts = _starts(estimate)
    pairs = matched_words(ref_words, est_words)
    return np.array([est_starts[j] - ref_starts[i] for i, j in pairs], dtype=float)


def score_word_starts(
    reference: WordTimes, estimate: WordTimes, tolerances: Sequence[float] = TOLERANCES_S
) -> dict:
    """`n_reference`, `n_estimate`, `matched`, `mean_error_ms`, `median_error_ms`,
    `mean_signed_ms` (positive: the estimate is late) and `f1@<ms>` per tolerance."""
    return score_clips([(reference, estimate)], tolerances)


def score_clips(
    clips: Sequence[tuple[WordTimes, WordTimes]], tolerances: Sequence[float] = TOLERANCES_S
) -> dict:
    """`score_word_starts` pooled over several clips' `(reference, estimate)`: words are matched
    within each clip, and the counts, errors and F1 are over all the clips' words."""
    if not clips or not all(reference for reference, _ in clips):
        raise ValueError("No reference words to score against (a clip without any, or none).")
    errors = np.concatenate([start_errors(ref, est) for ref, est in clips])
    n_ref = sum(len(_starts(ref)[0]) for ref, _ in clips)
    n_est = sum(len(_starts(est)[0]) for _, est in clips)
    scores = {
        "n_reference": n_ref,
        "n_estimate": n_est,
        "matched": len(errors),
        "mean_error_ms": float(np.abs(errors).mean() * 1000) if len(errors) else float("nan"),
        "median_error_ms": float(np.median(np.abs(errors)) * 1000) if len(errors) else float("nan"),
        "mean_signed_ms": float(errors.mean() * 1000) if len(errors) else float("nan"),
    }
    for tolerance in tolerances:
        hits = int((np.abs(errors) <= tolerance + 1e-9).sum())
        precision = hits / n_est if n_est else 0.0
        recall = hits / n_ref
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        scores[f"f1@{round(tolerance * 1000)}ms"] = f1
    return scores
