"""Layers x cells heatmap of a sweep, each cell drawn where it lies.

With `cell_seconds` the x axis is time in seconds and every cell is a rectangle over its true
`(start, end)`: cells of unequal length keep their lengths, time between cells stays blank
(the axes' grey background, never a colour of the scale), and overlapping cells share the
overlap in strips (`hooked_audio.plots.cell_layout`) instead of hiding each other. Cells with
labels of their own (words, not the automatic "0.40-0.62s") get them on a tick row above the
heatmap at their centres, and their edges as thin vertical lines (edges a frame apart as one
line). A NaN value is black.

Without seconds (token positions, heads) the cells are equal columns in order, ticked with
`tick_labels` (e.g. token strings) or the cells' labels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.plots.cell_layout import Piece, pieces

TIME_LABEL = re.compile(r"^\d+(\.\d+)?-\d+(\.\d+)?s$")
POSITION_LABEL = re.compile(r"^\d+(,\d+)*$")
GAP_COLOUR = "0.88"
MISSING_COLOUR = "black"
BOUNDARY_STYLE = {"color": "0.2", "linewidth": 0.7, "alpha": 0.6, "gid": "cell boundary"}
LAYER_SEPARATOR = {"color": "white", "linewidth": 1.0, "gid": "layer separator"}
RECOVERY_LABEL = "recovery (0 = corrupt, 1 = clean)"


@dataclass
class SweepHeatmap:
    """What `draw_sweep_heatmap` drew. `cells` holds one polygon per entry of `pieces`, in
    order: `(layer index, Piece)`. `label_axis` is the tick row of cell labels (None when
    the cells have none of their own); `boundaries` the x of the labelled cells' edges."""

    ax: object
    cells: object
    pieces: list[tuple[int, Piece]]
    colorbar: object | None
    label_axis: object | None
    boundaries: list[float]


def has_own_label(label: str) -> bool:
    """True for a label a person gave (a word), False for an automatic time span."""
    return not TIME_LABEL.match(label)


def draw_sweep_heatmap(
    ax,
    values: Float[Tensor, "layer cell"],
    layers: Sequence[int],
    cell_labels: Sequence[str],
    cell_seconds: Sequence[tuple[float, float]] | None = None,
    tick_labels: Sequence[str] | None = None,
    normalised: bool = True,
    value_label: str | None = None,
    time_span: tuple[float, float] | None = None,
    colorbar: bool = True,
    row_name: str = "layer",
) -> SweepHeatmap:
    """Draw `values[layer_index, cell_index]` on `ax` (module docstring for the layout).

    `normalised`: values are recoveries, coloured on a fixed -1..1 diverging scale; otherwise
    raw metric values on their own range. `value_label` names the colour scale (default: the
    recovery scale, or "metric"). `time_span` limits the time axis (default: the cells' span).
    """
    from matplotlib import colormaps
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize

    data = torch.as_tensor(values).detach().float().cpu().numpy()
    n_layers, n_cells = len(layers), len(cell_labels)
    if data.shape != (n_layers, n_cells):
        raise ValueError(
            f"values have shape {data.shape}, expected {(n_layers, n_cells)} (layers x cells)."
        )
    if time_span is not None and not time_span[1] > time_span[0]:
        raise ValueError(
            f"time_span {tuple(time_span)} must be (start, end) in seconds with end > start."
        )
    if tick_labels is not None and len(tick_labels) != n_cells:
        raise ValueError(f"{n_cells} cells but {len(tick_labels)} tick labels.")
    spans = (
        list(cell_seconds)
        if cell_seconds is not None
        else [(i - 0.5, i + 0.5) for i in range(n_cells)]
    )
    layout = pieces(spans)
    drawn, verts, colours = [], [], []
    for li in range(n_layers):
        for piece in layout:
            top, bottom = li - 0.5 + piece.top, li - 0.5 + piece.bottom
            verts.append(
                [(piece.start, top), (piece.end, top), (piece.end, bottom), (piece.start, bottom)]
            )
            colours.append(data[li, piece.cell])
            drawn.append((li, piece))
    if normalised:
        norm, cmap = Normalize(-1.0, 1.0), "RdBu_r"
    else:
        finite = data[np.isfinite(data)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm, cmap = Normalize(low, high if high > low else low + 1.0), "viridis"
    cmap = colormaps[cmap].with_extremes(bad=MISSING_COLOUR)
    mesh = PolyCollection(verts, array=np.asarray(colours), cmap=cmap, norm=norm)
    mesh.set_edgecolor("face")
    mesh.set_linewidth(0.0)
    ax.add_collection(mesh)
    ax.set_ylim(n_layers - 0.5, -0.5)
    ax.set_yticks(range(n_layers), [str(layer) for layer in layers])
    ax.set_ylabel(row_name)
    for li in range(n_layers - 1):
        ax.axhline(li + 0.5, **LAYER_SEPARATOR)
    label_axis, boundaries = None, []
    if cell_seconds is not None:
        ax.set_facecolor(GAP_COLOUR)
        ax.set_xlim(*(time_span or (min(s for s, _ in spans), max(e for _, e in spans))))
        ax.set_xlabel("time (s)")
        label_axis, boundaries = label_time_spans(ax, spans, cell_labels)
    else:
        ax.set_xlim(-0.5, n_cells - 0.5)
        ticks = list(tick_labels) if tick_labels is not None else list(cell_labels)
        rotation = 0 if max((len(t) for t in ticks), default=0) <= 4 else 90
        ax.set_xticks(range(n_cells), ticks, rotation=rotation)
        if tick_labels is not None:
            ax.set_xlabel("token")
        elif all(POSITION_LABEL.match(label) for label in cell_labels):
            ax.set_xlabel("token position")
        else:
            ax.set_xlabel("cell")
    bar = None
    if colorbar:
        extend = _extend(data, norm) if normalised else "neither"
        label = value_label or (RECOVERY_LABEL if normalised else "metric")
        bar = ax.figure.colorbar(mesh, ax=ax, label=label, extend=extend)
    return SweepHeatmap(ax, mesh, drawn, bar, label_axis, boundaries)


def label_time_spans(ax, spans, labels) -> tuple[object | None, list[float]]:
    """Own labels at the cells' centres on a tick row above `ax`; their edges as lines."""
    own = [i for i, label in enumerate(labels) if has_own_label(label)]
    if not own:
        return None, []
    centres = [(spans[i][0] + spans[i][1]) / 2 for i in own]
    row = ax.secondary_xaxis("top")
    rotation = 0 if len(own) <= 12 else 90
    row.set_xticks(centres, [labels[i] for i in own], rotation=rotation)
    row.tick_params(length=0)
    boundaries = merged_edges(sorted({edge for i in own for edge in spans[i]}))
    for x in boundaries:
        ax.axvline(x, **BOUNDARY_STYLE)
    return row, boundaries


#: edges closer than this (one 20 ms frame, with rounding) are drawn as one line
MERGE_EDGES_S = 0.025


def merged_edges(edges: list[float]) -> list[float]:
    """Sorted cell edges with each run of edges closer than `MERGE_EDGES_S` drawn once, at the
    run's middle: two words a frame apart get one line between them, not two lines around a
    sliver (the sliver itself stays the background colour: no cell covers it)."""
    merged: list[list[float]] = []
    for edge in edges:
        if merged and edge - merged[-1][-1] < MERGE_EDGES_S:
            merged[-1].append(edge)
        else:
            merged.append([edge])
    return [(run[0] + run[-1]) / 2 for run in merged]


def _extend(data: np.ndarray, norm) -> str:
    """Colorbar arrows for recoveries beyond the -1..1 scale."""
    low = bool(np.nanmin(data) < norm.vmin) if np.isfinite(data).any() else False
    high = bool(np.nanmax(data) > norm.vmax) if np.isfinite(data).any() else False
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (low, high), "both"
    )
