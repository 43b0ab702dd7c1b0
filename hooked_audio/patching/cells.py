"""Cells of a sweep (groups of positions patched together) and metric evaluation, shared by
every engine."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, SupportsIndex

import numpy as np
import torch
from torch import Tensor

from hooked_audio.checks import as_index, check_labels
from hooked_audio.streams.protocol import AudioStream

#: a sweep's cells: each an index (an int, a numpy or 0-d tensor integer), a sequence, 1-d array
#: or tensor of indices, or a slice
Cells = Sequence[SupportsIndex | Sequence[SupportsIndex] | slice | Tensor | np.ndarray]


def as_position_groups(cells: Cells | None, n_pos: int) -> list[list[int]]:
    """None -> one group per position; else each cell (an int, a sequence / 1-d array / tensor
    of ints, or a slice) as a list of positions in `[0, n_pos)`.

    Negative positions count from the end, as in Python indexing, and are stored as the
    non-negative position they mean (so labels and seconds are right). Floats, bools and
    boolean masks are refused: a float position or `True` (an int in Python) would silently
    patch the wrong frame."""
    if cells is None:
        return [[p] for p in range(n_pos)]
    if isinstance(cells, (str, bytes)) or not hasattr(cells, "__iter__"):
        raise TypeError(
            f"`cells` must be a sequence of cells (positions, lists of positions or "
            f"slices), got {type(cells).__name__}."
        )
    groups = [_group(cell, n_pos) for cell in cells]
    if not groups:
        raise ValueError("`cells` is empty: give at least one cell, or None for every position.")
    return groups


def labelled_position_groups(
    view: AudioStream, cells: Cells | None, labels: Sequence[str] | None, n_pos: int
) -> tuple[list[list[int]], list[str]]:
    """`as_position_groups(cells, n_pos)` and one label per group: `labels` (checked), or the
    view's (times on an audio stream)."""
    groups = as_position_groups(cells, n_pos)
    return groups, check_labels(labels, len(groups)) or view.cell_labels(groups)


def _group(cell: Any, n_pos: int) -> list[int]:
    if isinstance(cell, slice):
        group = list(range(n_pos))[cell]
    elif isinstance(cell, (Tensor, np.ndarray)) and cell.ndim == 1:
        if cell.dtype in (torch.bool, np.bool_):
            raise TypeError(
                "A boolean mask is not a cell here: give the positions "
                "(`mask.nonzero()`), or use `position_sweep`, which takes masks."
            )
        group = [as_index(p, "A cell position") for p in cell]
    elif hasattr(cell, "__iter__") and not isinstance(cell, (Tensor, np.ndarray, str)):
        group = [as_index(p, "A cell position") for p in cell]
    else:
        group = [as_index(cell, "A cell")]
    if not group:
        raise ValueError(f"Cell {cell!r} selects no position.")
    outside = [p for p in group if not -n_pos <= p < n_pos]
    if outside:
        raise ValueError(f"Cell {cell!r} has positions {outside} outside the {n_pos} positions.")
    return [p % n_pos for p in group]


def metric_value(metric: Callable, logits: Tensor, where: str = "") -> float:
    """`metric(logits)` as a float; refuses non-scalar and NaN results with a clear error."""
    value = torch.as_tensor(metric(logits)).detach()
    if value.ndim != 0:
        raise ValueError(
            f"The metric must return a scalar, got shape {tuple(value.shape)}; "
            "reduce over the batch inside the metric (e.g. `.mean()`)."
        )
    number = float(value)
    if math.isnan(number):
        raise ValueError(
            f"The metric returned NaN{' ' + where if where else ''}: check it on "
            "these logits (a log of zero, 0/0, a token outside the vocabulary)."
        )
    return number
