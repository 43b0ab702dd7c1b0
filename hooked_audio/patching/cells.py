"""Cells of a sweep (groups of positions patched together) and metric evaluation, shared by
the exact, head, path and attribution sweeps."""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor

Cells = Sequence[Union[int, Sequence[int], slice]]


def as_position_groups(cells: Optional[Cells], n_pos: int) -> list[list[int]]:
    """None -> one group per position; else each cell (an int, a list of positions or a
    slice) as a list of positions, validated against `n_pos`."""
    if cells is None:
        return [[p] for p in range(n_pos)]
    groups = []
    for cell in cells:
        if isinstance(cell, slice):
            group = list(range(n_pos))[cell]
        elif isinstance(cell, int):
            group = [cell]
        else:
            group = [int(p) for p in cell]
        if not group or min(group) < -n_pos or max(group) >= n_pos:
            raise ValueError(f"Cell {cell!r} is empty or outside the {n_pos} positions.")
        groups.append(group)
    return groups


def metric_value(metric: Callable, logits: Tensor) -> float:
    """`metric(logits)` as a float, refusing non-scalar metrics with a clear error."""
    value = torch.as_tensor(metric(logits)).detach()
    if value.ndim != 0:
        raise ValueError(f"The metric must return a scalar, got shape {tuple(value.shape)}; "
                         "reduce over the batch inside the metric (e.g. `.mean()`).")
    return float(value)
