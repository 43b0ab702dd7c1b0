"""Argument checks shared across the package: each argument that sizes or indexes work (a
count, a batch size, layers, indices, ids, labels) is validated before any work runs, with an
error that names the problem and the fix."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def as_index(value: Any, what: str) -> int:
    """A Python int from an int-like value (int, numpy integer, integer 0-d tensor).

    Refuses bools (`True` is an int in Python: it would silently mean position 1), floats and
    anything else, naming `what` the value was meant to be."""
    if isinstance(value, bool) or (isinstance(value, Tensor) and value.dtype == torch.bool):
        raise TypeError(f"{what} must be an integer, got the bool {value!r}.")
    if isinstance(value, Tensor):
        if value.ndim != 0 or value.is_floating_point() or value.is_complex():
            raise TypeError(
                f"{what} must be an integer, got a tensor of dtype {value.dtype} "
                f"and shape {tuple(value.shape)}."
            )
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{what} must be an integer, got {type(value).__name__} {value!r}."
        ) from None


def check_layers(layers: Sequence[Any] | None, n_layers: int, allow_end: bool = False) -> list[int]:
    """`layers` as ints in `[0, n_layers)` (`[0, n_layers]` with `allow_end`); None = all."""
    if layers is None:
        return list(range(n_layers))
    if not hasattr(layers, "__iter__") or getattr(layers, "ndim", 1) == 0:
        layers = [layers]  # one layer
    out = [as_index(layer, "A layer") for layer in layers]
    if not out:
        raise ValueError("`layers` is empty: give at least one layer, or None for all.")
    top = n_layers + int(allow_end)
    bad = [layer for layer in out if not 0 <= layer < top]
    if bad:
        raise ValueError(
            f"Layers must lie in [0, {top}) for this {n_layers}-layer stack; "
            f"got {out} ({bad} outside)."
        )
    return out


def check_count(value: Any, name: str) -> int:
    """`value` if it is an integer >= 1 (a number of steps, cells, positions), else a
    ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return value


def check_unique(ids: Sequence, what: str) -> None:
    """A ValueError naming the repeated ones when `ids` (e.g. "Pair ids in a study") repeat."""
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{what} must be unique; repeated: {repeated}.")


def check_indices(values: Sequence[Any], size: int, what: str) -> list[int]:
    """`values` as distinct ints in `[0, size)` (bools, floats and repeats refused): the check
    for a list of features, heads or other indices, naming `what` they are."""
    chosen = [as_index(v, f"An entry of `{what}`") for v in values]
    if not chosen:
        raise ValueError(f"`{what}` is empty: give at least one.")
    bad = [i for i in chosen if not 0 <= i < size]
    if bad:
        raise ValueError(f"`{what}` must lie in [0, {size}); got {bad}.")
    check_unique(chosen, f"`{what}`")
    return chosen


def check_flags(**flags: Any) -> None:
    """Each keyword must be True or False (not 1, "yes" or None, which would read as a
    choice); a TypeError names the first that is not."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}.")


def check_batch_size(batch_size: Any, device: torch.device) -> int:
    """A positive int; None = 1 on a CPU (one forward already keeps the cores busy), 32 else."""
    if batch_size is None:
        return 1 if device.type == "cpu" else 32
    size = as_index(batch_size, "batch_size")
    if size <= 0:
        raise ValueError(f"batch_size must be a positive number of cells per forward, got {size}.")
    return size


def check_labels(labels: Sequence[Any] | None, n_cells: int) -> list[str] | None:
    """One label per cell, or None."""
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TypeError("`labels` must be a sequence of strings, one per cell, not one string.")
    labels = [str(label) for label in labels]
    if len(labels) != n_cells:
        raise ValueError(f"{n_cells} cells but {len(labels)} labels: give one label per cell.")
    return labels
