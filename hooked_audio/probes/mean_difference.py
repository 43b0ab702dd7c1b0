"""`mean_difference_direction`: the difference of two classes' mean activations at one stored
hook, a steering direction that needs no fitted probe.

It is the usual alternative to a probe's weights for steering (a probe's weights point where
the classes separate best, which may lean on directions of little variance; the difference of
means points from one class's centre to the other's). The mean is taken per clip first, then
over clips, so a long clip counts as much as a short one and a class is not the voice of its
longest recording; `per_clip=False` averages rows instead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from hooked_audio.probes.direction import unit_length
from hooked_audio.probes.hook_layers import choose_hooks
from hooked_audio.probes.labels import ProbeLabels


def _class_mean(x: np.ndarray, clips: np.ndarray, rows: np.ndarray, per_clip: bool) -> np.ndarray:
    if not per_clip:
        return x[rows].mean(axis=0)
    frame = pd.DataFrame(x[rows]).groupby(clips[rows], sort=False).mean()
    return frame.to_numpy().mean(axis=0)


def mean_difference_direction(
    store,
    labels,
    hook: str,
    towards: str,
    away: str | None = None,
    per_clip: bool = True,
    unit: bool = True,
) -> torch.Tensor:
    """`[features]` float32: the mean activation of class `towards` minus that of class `away`
    (default: every other labelled row) at `hook` of `store` (an `ActivationStore`), in the
    model's coordinates: adding it moves an activation from `away`'s centre towards
    `towards`'s. `labels`: `ProbeLabels` built from this store (or one label per stored row,
    None for a row left out). `per_clip`: average each clip's rows first (default). Unit length
    unless `unit=False` (then in the activation's own units)."""
    choose_hooks(store, hooks=hook)  # a ValueError naming the stored hooks if it is not one
    labels = ProbeLabels.for_rows(labels, store.frame(hook), hook)
    classes = labels.classes
    for name, value in (("towards", towards), ("away", away)):
        if value is not None and value not in classes:
            raise ValueError(f"{name}={value!r} is not a labelled class; classes: {classes}.")
    if away == towards:
        raise ValueError(f"towards and away are the same class {towards!r}: no difference.")
    values = labels.values
    to_rows = values == towards
    away_rows = labels.labelled & ~to_rows if away is None else values == away
    if not away_rows.any():
        raise ValueError(
            f"Every labelled row is {towards!r}: there is no other class to take the "
            "difference from. Add rows of another class."
        )
    x = store.array(hook).astype(np.float64)
    difference = _class_mean(x, labels.clip, to_rows, per_clip) - _class_mean(
        x, labels.clip, away_rows, per_clip
    )
    if unit:
        difference = unit_length(
            difference,
            f"{towards!r} and its contrast have the same mean at {hook}: there is no "
            "direction between them.",
        )
    return torch.as_tensor(difference, dtype=torch.float32)
