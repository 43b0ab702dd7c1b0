"""The plotly figures of a study's report: onset-aligned recovery curves and changed-word bars
over all pairs, and one layers x time map per pair whose cells sit at their true times."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from hooked_audio.plots.time_cells_plotly import recovery_coloraxis, time_cell_bars
from hooked_audio.study.sites import ordered_sites, site_labels

#: what each direction's recovery measures, shown as the panel title
DIRECTION_TITLES = {
    "denoise": "denoise: sufficiency (clean frames into the corrupt run)",
    "noise": "noise: necessity (corrupt frames into the clean run)",
}
RECOVERY = "recovery (1 = clean run)"
#: a small template: plotly's default one would be repeated in every figure of the page
TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family="system-ui, sans-serif", size=12),
        paper_bgcolor="white",
        plot_bgcolor="#f6f7f9",
        margin=dict(l=60, r=20, t=60, b=50),
        hoverlabel=dict(align="left"),
    )
)
CELLS = {"changed word": "#d62728", "other words": "#7f7f7f"}
SPAN_COLOUR = "#d62728"


def direction_title(direction: str) -> str:
    return DIRECTION_TITLES.get(direction, direction)


def direction_subplots(directions):
    """One panel per direction side by side, sharing the y axis."""
    return make_subplots(
        rows=1,
        cols=len(directions),
        shared_yaxes=True,
        subplot_titles=[direction_title(d) for d in directions],
        horizontal_spacing=0.04,
    )


def site_colours(sites: Sequence[str]) -> dict[str, str]:
    """One colour per site in the given order, from early (dark) to late (light)."""
    if len(sites) == 1:
        return {sites[0]: sample_colorscale("Viridis", [0.0])[0]}
    points = [0.85 * i / (len(sites) - 1) for i in range(len(sites))]
    return dict(zip(sites, sample_colorscale("Viridis", points)))


def _fade(colour: str, alpha: float = 0.2) -> str:
    return colour.replace("rgb(", "rgba(").replace(")", f", {alpha})")


def interval_polygons(
    x: np.ndarray, low: Sequence[float], high: Sequence[float]
) -> tuple[list, list]:
    """A band between `low` and `high` as closed outlines, one per run of points where both
    are finite (an interval is NaN where a bin holds a single pair), separated by None."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    finite = np.isfinite(low) & np.isfinite(high)
    band_x, band_y, start = [], [], None
    for i, ok in enumerate([*finite, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            xs, lows, highs = list(x[start:i]), list(low[start:i]), list(high[start:i])
            band_x += xs + xs[::-1] + [None]
            band_y += highs + lows[::-1] + [None]
            start = None
    return band_x[:-1], band_y[:-1]


def onset_figure(
    curves: pd.DataFrame, act: str, directions: Sequence[str], bin_s: float
) -> go.Figure:
    """Recovery against time from the changed word's onset, one line per layer (or head;
    mean over pairs) with its 95% interval as a band, one panel per direction, for one
    activation. `curves`: `StudyResult.onset_curves(bin_s)`; points sit at their bins'
    centres."""
    curves = curves[curves["act"] == act]
    colours = site_colours(ordered_sites(curves))
    fig = direction_subplots(directions)
    for col, direction in enumerate(directions, start=1):
        for group, colour in colours.items():
            c = curves[(curves["direction"] == direction) & (curves["site"] == group)]
            c = c.sort_values("bin_s")
            x = (c["bin_s"] + bin_s / 2).round(6)
            first = col == 1
            band_x, band_y = interval_polygons(x.to_numpy(), c["ci_low"], c["ci_high"])
            fig.add_trace(
                go.Scatter(
                    x=band_x,
                    y=band_y,
                    mode="lines",
                    line=dict(width=0),
                    fill="toself",
                    fillcolor=_fade(colour),
                    legendgroup=group,
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=c["mean"],
                    mode="lines+markers",
                    name=group,
                    legendgroup=group,
                    showlegend=first,
                    line=dict(color=colour, width=2),
                    marker=dict(size=5),
                    customdata=c[["ci_low", "ci_high", "n_pairs"]].to_numpy(),
                    hovertemplate=(
                        f"{group}<br>%{{x:+.2f}} s from onset<br>mean %{{y:.3f}}"
                        "<br>95%: %{customdata[0]:.3f} to %{customdata[1]:.3f}"
                        "<br>%{customdata[2]} pairs<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
        fig.add_vline(x=0, line=dict(color=SPAN_COLOUR, dash="dot", width=1), row=1, col=col)
        fig.update_xaxes(title_text="time from the changed word's onset (s)", row=1, col=col)
    fig.update_yaxes(title_text=RECOVERY, row=1, col=1)
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=f"{act}: recovery around the changed word, per {_unit(curves)}", x=0),
        height=380,
        legend=dict(title="mean, 95% band"),
        hovermode="closest",
    )
    return fig


def word_bar_figure(summary: pd.DataFrame, act: str, directions: Sequence[str]) -> go.Figure:
    """Mean recovery in the changed word's cells and in every other cell, per layer (or head),
    with 95% intervals over pairs, one panel per direction, for one activation.
    `summary`: `StudyResult.word_summary()`."""
    summary = summary[summary["act"] == act]
    order = {site: i for i, site in enumerate(ordered_sites(summary))}
    fig = direction_subplots(directions)
    for col, direction in enumerate(directions, start=1):
        for cells, colour in CELLS.items():
            s = summary[(summary["direction"] == direction) & (summary["cells"] == cells)]
            s = s.sort_values("site", key=lambda sites: sites.map(order))
            fig.add_trace(
                go.Bar(
                    x=s["site"],
                    y=s["mean"],
                    name=cells,
                    legendgroup=cells,
                    showlegend=col == 1,
                    marker_color=colour,
                    error_y=dict(
                        type="data",
                        array=(s["ci_high"] - s["mean"]).fillna(0),
                        arrayminus=(s["mean"] - s["ci_low"]).fillna(0),
                        visible=bool(s["ci_low"].notna().any()),
                    ),
                    customdata=s[["ci_low", "ci_high", "n_pairs"]].to_numpy(),
                    hovertemplate=(
                        f"{cells}<br>%{{x}}<br>mean %{{y:.3f}}"
                        "<br>95%: %{customdata[0]:.3f} to %{customdata[1]:.3f}"
                        "<br>%{customdata[2]} pairs<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(title_text=RECOVERY, row=1, col=1)
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=f"{act}: changed word vs other words, per {_unit(summary)}", x=0),
        barmode="group",
        height=340,
    )
    return fig


def corruption_bar_figure(table: pd.DataFrame) -> go.Figure:
    """Minimal pairs against noise (`corruption_table`'s rows): peak recovery and sharpness per
    corruption, a bar per layer, hover giving the usable pairs."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["peak recovery", "sharpness (share on the changed word +-0.1 s)"],
        horizontal_spacing=0.08,
    )
    layers = sorted(table["layer"].unique())
    colours = site_colours([f"layer {layer}" for layer in layers])
    for col, column in enumerate(("peak", "sharpness"), start=1):
        for layer in layers:
            part = table[table["layer"] == layer]
            fig.add_trace(
                go.Bar(
                    x=part["corruption"],
                    y=part[column],
                    name=f"layer {layer}",
                    legendgroup=f"layer {layer}",
                    showlegend=col == 1,
                    marker_color=colours[f"layer {layer}"],
                    customdata=part[["usable_pairs", "pairs"]].to_numpy(),
                    hovertemplate=(
                        f"%{{x}}<br>layer {layer}<br>{column} %{{y:.3f}}"
                        "<br>%{customdata[0]} of %{customdata[1]} pairs usable<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text="Denoising maps per corruption: minimal pairs against noise", x=0),
        barmode="group",
        height=360,
    )
    return fig


def _unit(frame: pd.DataFrame) -> str:
    return "head" if frame["head"].notna().any() else "layer"


def pair_figure(
    rows: pd.DataFrame,
    directions: Sequence[str],
    acts: Sequence[str],
    title: str = "",
    duration_s: float | None = None,
    start_s: float = 0.0,
) -> go.Figure:
    """One pair's recovery as layers (or heads) x time: a panel per activation (rows) and
    direction (columns); each cell is a bar from its `start_s` to its `end_s` at its layer or
    head, coloured by `normalised` recovery and labelled with its word; the changed word's
    span is outlined. `start_s`-`duration_s`: the time axis's extent (default: the cells'),
    the clip (from 0 to its length) or the window of a long recording that was patched, in
    seconds of the recording."""
    rows = rows.assign(site=site_labels(rows))
    sites = {act: ordered_sites(rows[rows["act"] == act]) for act in acts}
    row_px = [40 + 30 * len(sites[act]) for act in acts]
    height = 100 + sum(row_px)
    fig = make_subplots(
        rows=len(acts),
        cols=len(directions),
        shared_xaxes=True,
        shared_yaxes=True,
        row_heights=row_px,
        subplot_titles=[f"{act} · {direction}" for act in acts for direction in directions],
        vertical_spacing=50 / height if len(acts) > 1 else 0.0,
        horizontal_spacing=0.03,
    )
    values = rows["normalised"]
    for r, act in enumerate(acts, start=1):
        for c, direction in enumerate(directions, start=1):
            cells = rows[(rows["act"] == act) & (rows["direction"] == direction)]
            fig.add_trace(time_cell_bars(cells, f"{act}|{direction}"), row=r, col=c)
            for onset, offset in cells[["onset_s", "offset_s"]].drop_duplicates().to_numpy():
                fig.add_vrect(
                    x0=onset,
                    x1=offset,
                    line=dict(color=SPAN_COLOUR, width=2, dash="dash"),
                    fillcolor="rgba(0,0,0,0)",
                    layer="above",
                    row=r,
                    col=c,
                )
        fig.update_yaxes(
            type="category",
            categoryorder="array",
            categoryarray=sites[act],
            autorange="reversed",
            row=r,
        )
    fig.update_xaxes(title_text="time (s)", row=len(acts))
    if duration_s is not None:
        fig.update_xaxes(range=[start_s, duration_s])
    fig.update_layout(
        template=TEMPLATE,
        title=dict(text=title, x=0),
        barmode="overlay",
        height=height,
        coloraxis=recovery_coloraxis(values),
        showlegend=False,
        margin=dict(t=70, b=60),
    )
    return fig
