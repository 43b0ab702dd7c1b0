"""Held-out accuracy and balanced accuracy with a confidence interval from a bootstrap over
CLIPS (a cluster bootstrap), not over frames.

Why clips: neighbouring 20 ms frames of one clip are far from independent (they share the
clip's speaker, words, recording and, through attention, context), so a frame-level interval
(Wilson, or a bootstrap over frames) treats thousands of correlated frames as thousands of
independent trials and comes out much too narrow. Resampling whole held-out clips keeps each
clip's frames together, so the interval reflects how much the score varies from clip to clip,
which is what a new clip would see. The interval is the percentile interval of the resampled
scores (`inverted_cdf`: each end is a score some resample had). With few held-out clips it is
coarse (its ends can take only a few values): report it, and add clips to narrow it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hooked_audio.checks import check_count


@dataclass(frozen=True)
class Score:
    value: float
    low: float
    high: float


def _per_clip_counts(y_true, y_pred, clips, classes):
    """`[clips, classes]` rows of each class in each clip, and how many of them are correct."""
    clip_ids, clip_index = np.unique(np.asarray(clips, dtype=object), return_inverse=True)
    class_index = {c: i for i, c in enumerate(classes)}
    true_index = np.array([class_index[c] for c in y_true], dtype=np.int64)
    rows = np.zeros((len(clip_ids), len(classes)))
    right = np.zeros((len(clip_ids), len(classes)))
    np.add.at(rows, (clip_index, true_index), 1)
    np.add.at(right, (clip_index, true_index), np.asarray(y_true) == np.asarray(y_pred))
    return rows, right


def _scores(rows: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and balanced accuracy (the mean recall over the classes present) of summed
    counts `[..., classes]`."""
    accuracy = right.sum(-1) / rows.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(rows > 0, right / rows, np.nan)
    return accuracy, np.nanmean(recall, axis=-1)


def clip_bootstrap(
    y_true,
    y_pred,
    clips,
    classes=None,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[Score, Score]:
    """(accuracy, balanced accuracy) of `y_pred` against `y_true` over all rows, each with the
    percentile interval of `n_bootstrap` resamples of the clips (with replacement; a clip drawn
    twice counts its rows twice). `clips[i]`: row `i`'s clip."""
    n_bootstrap = check_count(n_bootstrap, "n_bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), e.g. 0.95; got {confidence!r}.")
    if not len(y_true) == len(y_pred) == len(clips) or not len(y_true):
        raise ValueError(
            f"y_true, y_pred and clips need one entry per row, at least one row; got "
            f"{len(y_true)}, {len(y_pred)} and {len(clips)}."
        )
    classes = sorted(set(y_true)) if classes is None else list(classes)
    rows, right = _per_clip_counts(y_true, y_pred, clips, classes)
    accuracy, balanced = _scores(rows.sum(0), right.sum(0))
    rng = np.random.default_rng(seed)
    n_clips = len(rows)
    # how often each clip is drawn in each resample: [n_bootstrap, clips]
    draws = rng.multinomial(n_clips, np.full(n_clips, 1 / n_clips), size=n_bootstrap)
    boot_accuracy, boot_balanced = _scores(
        np.einsum("bc,ck->bk", draws, rows), np.einsum("bc,ck->bk", draws, right)
    )
    tail = (1 - confidence) / 2
    ends = [tail, 1 - tail]
    a_low, a_high = np.quantile(boot_accuracy, ends, method="inverted_cdf")
    b_low, b_high = np.quantile(boot_balanced, ends, method="inverted_cdf")
    return (
        Score(float(accuracy), float(a_low), float(a_high)),
        Score(float(balanced), float(b_low), float(b_high)),
    )
