"""Where each cell of a sweep is drawn in one layer's row: pieces in time and their share of it.

A cell covers `(start, end)` on the x axis (seconds, or `index +- 0.5` for token cells). Cells
that do not overlap are one piece each, as tall as the row. Where cells overlap, no cell hides
another: each cell gets a lane (the first lane free at its start, so windows with a stride
alternate), and a stretch of time that `k` cells share is split into `k` strips, one per cell
in lane order. A cell keeps its full height over the time it has alone, so word cells that
share one boundary frame stay full height except for that frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Piece:
    """Part of cell `cell` over `[start, end)`, filling `[top, bottom)` of the row (0 = its top
    edge, 1 = its bottom edge)."""

    cell: int
    start: float
    end: float
    top: float
    bottom: float


def check_spans(spans: Sequence[tuple[float, float]]) -> None:
    """Refuse a span that is empty, reversed or not finite."""
    for i, (start, end) in enumerate(spans):
        if not (math.isfinite(start) and math.isfinite(end) and end > start):
            raise ValueError(
                f"Cell {i} spans ({start}, {end}): a cell needs a finite start before its end; "
                "check the result's cell_seconds."
            )


def lanes(spans: Sequence[tuple[float, float]]) -> list[int]:
    """Lane of each cell: cells in order of start take the first lane whose last cell has
    ended, so cells in one lane never overlap."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1], i))
    lane_ends: list[float] = []
    lane = [0] * len(spans)
    for i in order:
        start, end = spans[i]
        free = [k for k, last in enumerate(lane_ends) if last <= start + TOLERANCE]
        if free:
            lane[i] = free[0]
            lane_ends[free[0]] = end
        else:
            lane[i] = len(lane_ends)
            lane_ends.append(end)
    return lane


def pieces(spans: Sequence[tuple[float, float]]) -> list[Piece]:
    """The pieces that draw `spans` in one row, ordered by cell, then time (module docstring)."""
    check_spans(spans)
    lane = lanes(spans)
    exact: dict[float, float] = {}
    for span in spans:
        for t in span:
            exact.setdefault(round(t, 9), float(t))
    edges = sorted(exact.values())
    by_start = sorted(range(len(spans)), key=lambda i: spans[i][0])
    active: list[int] = []
    next_cell = 0
    raw: list[Piece] = []
    for a, b in zip(edges[:-1], edges[1:]):
        while next_cell < len(by_start) and spans[by_start[next_cell]][0] <= a + TOLERANCE:
            active.append(by_start[next_cell])
            next_cell += 1
        active = [i for i in active if spans[i][1] > a + TOLERANCE]
        covering = sorted(active, key=lambda i: lane[i])
        for j, i in enumerate(covering):
            raw.append(Piece(i, a, b, j / len(covering), (j + 1) / len(covering)))
    raw.sort(key=lambda p: (p.cell, p.start))
    merged: list[Piece] = []
    for piece in raw:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.cell == piece.cell
            and abs(last.end - piece.start) <= TOLERANCE
            and (last.top, last.bottom) == (piece.top, piece.bottom)
        ):
            merged[-1] = Piece(last.cell, last.start, piece.end, last.top, last.bottom)
        else:
            merged.append(piece)
    return merged
