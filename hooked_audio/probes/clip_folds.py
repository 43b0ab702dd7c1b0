"""Folds of held-out CLIPS: every labelled row of a clip lies on one side of each split, so a
probe is never tested on frames of a clip it was trained on (neighbouring frames are nearly
copies; a frame-level split would score memorisation). scikit-learn's StratifiedGroupKFold
groups by clip and keeps each fold's class shares near the whole set's; every clip is held out
exactly once, so the held-out predictions cover every labelled row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hooked_audio.probes.requirement import sklearn


def check_clips_per_class(y: np.ndarray, clips: np.ndarray, name: str) -> None:
    """Two clips at least in all, and every class in two clips at least (a class of one clip
    is never both trained on and tested when clips are held out); else a ValueError."""
    n_clips = len(set(clips))
    if n_clips < 2:
        raise ValueError(
            f"Probe label {name!r} has labelled rows in {n_clips} clip(s): too few clips to "
            "hold any out (the probe is tested on clips it was not trained on). Store and "
            "label at least two clips; several per class give a useful interval."
        )
    per_class = pd.Series(clips).groupby(pd.Series(y)).nunique()
    lonely = per_class[per_class < 2]
    if len(lonely):
        names = [str(c) for c in lonely.index]
        raise ValueError(
            f"Probe label {name!r}: classes {names} occur in one clip only, so "
            "held-out clips cannot test them (trained without them, or tested without them). "
            "Add clips of those classes, or leave them out of the labels."
        )


def clip_folds(
    y: np.ndarray, clips: np.ndarray, folds: int | None, seed: int, name: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`[(train_rows, test_rows)]`, one per fold, split by clip (`folds` None: 5, or one fold
    per clip when there are fewer). A fold whose training clips hold one class only is a
    ValueError naming its held-out clips."""
    check_clips_per_class(y, clips, name)
    n_clips = len(set(clips))
    if folds is None:
        folds = min(5, n_clips)
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= n_clips:
        raise ValueError(
            f"folds must be an integer from 2 to the number of labelled clips ({n_clips}); got "
            f"{folds!r}."
        )
    sklearn()  # an ImportError naming the probes extra, when scikit-learn is missing
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(y)), y, groups=clips))
    for number, (train, test) in enumerate(splits):
        if len(set(y[train])) < 2:
            only = sorted(str(c) for c in set(y[train]))
            held_out = sorted(str(c) for c in set(clips[test]))
            raise ValueError(
                f"Probe label {name!r} is constant ({only}) in the training split of fold "
                f"{number} (held-out clips {held_out}): the "
                "other class's clips are all held out. Add clips of each class, or use fewer "
                "folds."
            )
    return splits
