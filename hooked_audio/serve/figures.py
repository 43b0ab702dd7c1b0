"""The probing page's figures (plotly), every one on the clip's time axis in seconds: a value at
encoder position p is drawn over `[p, p + 1) * 0.02` s, a mel column c over `[c, c + 1) * 0.01`
s, a sweep cell over its own `(start, end)`. Words are labelled at their times from the
transcription (or the cells' labels), never placed by index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from hooked_audio.constants import SECONDS_PER_POSITION
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.plots.time_cells_plotly import recovery_coloraxis, sweep_cells, time_cell_bars
from hooked_audio.serve.probe import ClipProbe, Word

SECONDS_PER_MEL = SECONDS_PER_POSITION / 2
MARGIN = {"l": 60, "r": 20, "t": 50, "b": 40}
#: every time axis spans the same share of the page's width (colour bars sit to its right), so
#: the spectrogram, the sweep and the other views line up second for second
TIME_DOMAIN = [0.0, 0.92]
COLORBAR = {"x": 0.94, "len": 0.9}


def _centres(n: int, step: float) -> np.ndarray:
    return (np.arange(n) + 0.5) * step


def _word_marks(fig: go.Figure, words: Sequence[Word], row_y: float = 1.0) -> None:
    """Each word's label above the plot at its centre, a faint line at its start."""
    for word in words:
        fig.add_vline(x=word.start, line={"color": "rgba(255,255,255,0.35)", "width": 1})
        fig.add_annotation(
            x=(word.start + word.end) / 2,
            y=row_y,
            yref="paper",
            text=word.text,
            yanchor="bottom",
            showarrow=False,
            font={"size": 11},
        )


def spectrogram_figure(probe: ClipProbe) -> go.Figure:
    """The clip's log-mel with its words; drag across it to select a stretch of time."""
    mel = probe.mel
    fig = go.Figure(
        go.Heatmap(
            z=mel,
            x=_centres(mel.shape[1], SECONDS_PER_MEL),
            colorscale="Magma",
            showscale=False,
            hovertemplate="%{x:.2f} s, mel bin %{y}<extra></extra>",
        )
    )
    _word_marks(fig, probe.words)
    fig.update_layout(
        height=260,
        margin=MARGIN,
        dragmode="select",
        selectdirection="h",
        xaxis={"title": "time (s)", "range": [0, probe.seconds], "domain": TIME_DOMAIN},
        yaxis={"title": "mel bin", "fixedrange": True},
    )
    return fig


def time_heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    title: str,
    row_title: str,
    seconds: float,
    colorscale: str = "Viridis",
) -> go.Figure:
    """`values[row, position]` over encoder positions, on the clip's time axis."""
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=_centres(values.shape[1], SECONDS_PER_POSITION),
            y=list(rows),
            colorscale=colorscale,
            colorbar=COLORBAR,
            hovertemplate="%{x:.2f} s, %{y}: %{z:.3g}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=max(220, 60 + 22 * len(rows)),
        margin=MARGIN,
        xaxis={"title": "time (s)", "range": [0, seconds], "domain": TIME_DOMAIN},
        yaxis={"title": row_title, "autorange": "reversed", "type": "category"},
    )
    return fig


def encoder_attention_figure(probe: ClipProbe, layer: int, head: int) -> go.Figure:
    """Encoder self-attention of one head: query time (rows) against key time (columns)."""
    pattern = probe.encoder_attention(layer, head)
    times = _centres(probe.n_positions, SECONDS_PER_POSITION)
    fig = go.Figure(
        go.Heatmap(
            z=pattern,
            x=times,
            y=times,
            colorscale="Blues",
            hovertemplate="query %{y:.2f} s reads key %{x:.2f} s: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Encoder self-attention, layer {layer} head {head}",
        height=420,
        margin=MARGIN,
        xaxis={"title": "key time (s)", "range": [0, probe.seconds]},
        yaxis={"title": "query time (s)", "range": [probe.seconds, 0]},
    )
    return fig


def cross_attention_figure(probe: ClipProbe, layer: int, head: int) -> go.Figure:
    """Decoder cross-attention of one head: each transcript token (rows) over the clip's time."""
    rows = [f"{i}: {s!r}" for i, s in enumerate(probe.token_strings)]
    fig = time_heatmap(
        probe.cross_attention(layer, head),
        rows,
        f"Decoder cross-attention, layer {layer} head {head}",
        "token",
        probe.seconds,
        colorscale="Blues",
    )
    _word_marks(fig, probe.words)
    return fig


def norms_figure(probe: ClipProbe) -> go.Figure:
    """The encoder's residual stream norm after each block, over time."""
    rows = [str(layer) for layer in range(probe.n_layers)]
    fig = time_heatmap(
        probe.activation_norms(),
        rows,
        "Residual stream norm after each block",
        "block",
        probe.seconds,
    )
    _word_marks(fig, probe.words)
    return fig


def decoder_lens_figure(probe: ClipProbe) -> go.Figure:
    """The decoder logit lens: per layer (rows) and transcript token (columns), the probability
    of the token that comes next, with each layer's top token written in."""
    lens = probe.decoder_lens()
    columns = [f"{j}: {s!r}" for j, s in enumerate(lens.target_strings)]
    fig = go.Figure(
        go.Heatmap(
            z=lens.target_probs.numpy(),
            x=columns,
            y=lens.labels,
            text=lens.top_strings,
            texttemplate="%{text}",
            zmin=0,
            zmax=1,
            colorscale="Greens",
            hovertemplate="layer %{y}, next %{x}: p=%{z:.2f}, top %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Decoder logit lens: probability of the next token (top token written in)",
        height=max(240, 60 + 40 * len(lens.labels)),
        margin=MARGIN,
        xaxis={"title": "next token", "type": "category"},
        yaxis={"title": "layer", "autorange": "reversed", "type": "category"},
    )
    return fig


def sweep_figure(result: SweepResult, seconds: float) -> go.Figure:
    """Recovery per layer and cell, each cell a bar over its own time span (the study's map,
    `hooked_audio.plots.time_cells_plotly`); a click on a cell plays the frames it patched
    (its span is in the bar's customdata)."""
    cells = sweep_cells(result)
    fig = go.Figure(time_cell_bars(cells, "recovery"))
    fig.update_layout(
        title="Recovery when the clean frames are patched in (resid_pre); click a cell to hear it",
        height=max(240, 60 + 40 * len(result.layers)),
        margin=MARGIN,
        barmode="overlay",
        showlegend=False,
        coloraxis=recovery_coloraxis(cells["normalised"], x=COLORBAR["x"], len=COLORBAR["len"]),
        xaxis={"title": "time (s)", "range": [0, seconds], "domain": TIME_DOMAIN},
        yaxis={"title": "layer", "autorange": "reversed", "type": "category"},
    )
    return fig


def sae_features_figure(probe: ClipProbe, sae, n: int = 16) -> go.Figure:
    """The SAE features most active over the clip (rows), their activation over time."""
    features, acts = probe.sae_features(sae, n)
    if not features:
        raise ValueError("No feature of this SAE fires on this clip.")
    fig = time_heatmap(
        acts,
        [f"feature {f}" for f in features],
        f"SAE features at {sae.cfg.metadata.hook_name} (most active on this clip first)",
        "",
        probe.seconds,
        colorscale="Viridis",
    )
    _word_marks(fig, probe.words)
    return fig
