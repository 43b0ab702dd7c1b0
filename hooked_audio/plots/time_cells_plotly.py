"""The plotly map of cells at their true times, shared by the study's report and the probing
page (matplotlib's is `sweep_heatmap.draw_sweep_heatmap`).

Each cell is a horizontal bar from its `start_s` to its `end_s` on its layer's (or head's) row,
coloured by recovery and labelled with its word: cells of unequal length (words, adaptive
windows) keep their own extents, where a heatmap at cell centres would stretch each cell to
the midpoints of its neighbours. Every bar's `customdata` holds `[label, start_s, end_s,
value, normalised, kind]`, so a click on a cell knows the frames it patched.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

#: the columns of `customdata`, in order (`kind` added: exact patch, estimate, window)
CUSTOM_COLUMNS = ["label", "start_s", "end_s", "value", "normalised"]


def sweep_cells(result) -> pd.DataFrame:
    """A `SweepResult` over time cells as the map's rows: one per layer and cell, with `site`
    ("layer l"), `label`, `start_s`, `end_s`, `value`, `normalised` and `exact`."""
    if result.cell_seconds is None:
        raise ValueError(
            "The time map draws cells of an audio stream (with times); this sweep's cells are "
            "token positions."
        )
    values, normalised = result.values.numpy(), result.normalised().numpy()
    exact = result.exact.numpy() if result.exact is not None else None
    rows = []
    for i, layer in enumerate(result.layers):
        for j, ((start, end), label) in enumerate(zip(result.cell_seconds, result.cell_labels)):
            rows.append(
                {
                    "site": f"layer {layer}",
                    "label": label,
                    "start_s": float(start),
                    "end_s": float(end),
                    "value": float(values[i, j]),
                    "normalised": float(normalised[i, j]),
                    "exact": True if exact is None else bool(exact[i, j]),
                }
            )
    return pd.DataFrame(rows)


def time_cell_bars(cells: pd.DataFrame, name: str = "") -> go.Bar:
    """One bar per row of `cells` (columns `site`, `label`, `start_s`, `end_s`, `value`,
    `normalised`, optionally `exact` and `n_cells`), coloured on the layout's `coloraxis`;
    estimates are hatched, and an adaptive study's unsplit windows say so on hover."""
    exact = cells["exact"] if "exact" in cells else pd.Series(True, index=cells.index)
    kind = exact.map({True: "exact patch", False: "estimate (integrated gradients)"})
    if "n_cells" in cells:  # an adaptive study's unsplit windows: one exact patch of them all
        together = cells["n_cells"].fillna(1) > 1
        kind = kind.where(
            ~together,
            "exact patch of "
            + cells["n_cells"].fillna(1).astype(int).astype(str)
            + " cells together (adaptive window)",
        )
    # plain lists, not numpy: plotly would send those as typed binary arrays, which the page's
    # callbacks and tests read back less simply
    return go.Bar(
        orientation="h",
        name=name,
        y=cells["site"].tolist(),
        base=cells["start_s"].tolist(),
        x=(cells["end_s"] - cells["start_s"]).tolist(),
        width=0.92,
        marker=dict(
            color=cells["normalised"].tolist(),
            coloraxis="coloraxis",
            line=dict(color="white", width=0.5),
            pattern=dict(shape=exact.map({True: "", False: "/"}).tolist()),  # estimates hatched
        ),
        text=cells["label"].tolist(),
        textposition="inside",
        insidetextanchor="middle",
        textangle=0,
        customdata=cells[CUSTOM_COLUMNS].assign(kind=kind).to_numpy(dtype=object),
        hovertemplate=(
            "<b>%{customdata[0]}</b> · %{y}"
            "<br>%{customdata[1]:.3f} to %{customdata[2]:.3f} s"
            "<br>recovery %{customdata[4]:.3f}<br>metric %{customdata[3]:.3f}"
            "<br>%{customdata[5]}<extra></extra>"
        ),
    )


def recovery_coloraxis(values: pd.Series, **colorbar) -> dict:
    """Viridis from 0 (the corrupt run) to 1 (the clean run), widened to the values' range."""
    return dict(
        colorscale="Viridis",
        cmin=min(0.0, float(values.min())),
        cmax=max(1.0, float(values.max())),
        colorbar=dict(title=dict(text="recovery", side="right"), thickness=12, **colorbar),
    )
