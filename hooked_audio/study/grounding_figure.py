"""The report's grounding figure for an audio LM: per language-model layer, the grounding
coefficient of every pair (thin lines) and their mean with its 95% interval (bold), one panel
per direction. 1: the answer is carried by the audio positions at that layer; 0: by the text
positions (`hooked_audio.analysis.grounding` says how to read it)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from hooked_audio.study.report_figures import TEMPLATE, direction_subplots

GROUNDING = "grounding g (1 = audio, 0 = text)"
PAIR_COLOUR = "rgba(31, 119, 180, 0.35)"
MEAN_COLOUR = "#1f77b4"


def grounding_figure(
    rows: pd.DataFrame, summary: pd.DataFrame, directions: Sequence[str]
) -> go.Figure:
    """`rows`: `StudyResult.grounding` as a frame; `summary`: `StudyResult.grounding_summary()`.
    Layers where a pair's coefficient is undefined (neither patch moves the metric) are gaps
    in its line, and the mean is over the pairs where it is defined."""
    fig = direction_subplots(directions)
    for col, direction in enumerate(directions, start=1):
        for pair, group in rows[rows["direction"] == direction].groupby("pair", sort=True):
            group = group.sort_values("layer")
            fig.add_trace(
                go.Scatter(
                    x=group["layer"],
                    y=group["grounding"],
                    mode="lines+markers",
                    name=str(pair),
                    legendgroup="pairs",
                    showlegend=False,
                    line=dict(color=PAIR_COLOUR, width=1),
                    marker=dict(size=4),
                    customdata=group[["audio_effect", "text_effect"]].to_numpy(),
                    hovertemplate=(
                        f"{pair}<br>layer %{{x}}<br>g %{{y:.3f}}<br>audio effect "
                        "%{customdata[0]:.3f}<br>text effect %{customdata[1]:.3f}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
        mean = summary[summary["direction"] == direction].sort_values("layer")
        fig.add_trace(
            go.Scatter(
                x=mean["layer"],
                y=mean["grounding"],
                mode="lines+markers",
                name="mean over pairs",
                legendgroup="mean",
                showlegend=col == 1,
                line=dict(color=MEAN_COLOUR, width=3),
                error_y=dict(
                    type="data",
                    array=(mean["ci_high"] - mean["grounding"]).fillna(0),
                    arrayminus=(mean["grounding"] - mean["ci_low"]).fillna(0),
                    visible=bool(mean["ci_low"].notna().any()),
                ),
                customdata=mean[["ci_low", "ci_high", "n_pairs"]].to_numpy(),
                hovertemplate=(
                    "mean<br>layer %{x}<br>g %{y:.3f}<br>95%: %{customdata[0]:.3f} to "
                    "%{customdata[1]:.3f}<br>%{customdata[2]} pairs<extra></extra>"
                ),
            ),
            row=1,
            col=col,
        )
        for level in (0, 1):
            fig.add_hline(y=level, line=dict(color="grey", dash="dot", width=1), row=1, col=col)
    fig.update_xaxes(title_text="language-model layer", dtick=1)
    fig.update_yaxes(title_text=GROUNDING, row=1, col=1)
    fig.update_layout(
        template=TEMPLATE,
        title=dict(
            text="Grounding: is the answer carried by the audio or the text positions?", x=0
        ),
        height=360,
    )
    return fig
