"""A context-mixing map (value zeroing) as query time x key time, with the clip's log-mel along
both time axes and its words at their times.

Frame `p` is drawn over `[p, p + 1) * seconds_per_position` on both axes (the convention of the
sweep heatmaps and `plot_log_mel`): key time runs left to right, query time top to bottom, as an
attention pattern is read. Frames between the chosen ones (non-contiguous `frames`) stay the
axes' grey, never a colour of the scale. With a spectrogram, the log-mel lies above the map
over key time and, turned a quarter, left of it over query time; words are labelled at their
centres on a tick row above the top log-mel (keys) and left of the side one (queries), their
edges drawn as thin lines across the map and the log-mels. Without one, the word rows sit
above and right of the map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hooked_audio.plots.spectrogram import SECONDS_PER_MEL_FRAME, as_log_mel
from hooked_audio.plots.sweep_figure import MEL_BOUNDARY_STYLE
from hooked_audio.plots.sweep_heatmap import BOUNDARY_STYLE, GAP_COLOUR, merged_edges

MIXING_LABEL = "share of the query's mixing"


@dataclass
class ContextMixingPlot:
    """What `plot_context_mixing` drew. `key_words` / `query_words`: the tick rows of words
    (None when no word falls in the drawn span); `key_edges` / `query_edges`: the x / y of
    the word edges drawn; the log-mel axes are None without a spectrogram."""

    ax: object
    image: object
    key_words: object | None
    query_words: object | None
    key_edges: list[float]
    query_edges: list[float]
    key_mel_ax: object | None = None
    query_mel_ax: object | None = None


def plot_context_mixing(
    scores,
    query_positions: Sequence[int],
    key_positions: Sequence[int],
    seconds_per_position: float,
    words: Sequence[tuple[str, float, float]] = (),
    spectrogram=None,
    title: str | None = None,
) -> ContextMixingPlot:
    """Draw `scores[q, k]` (query frame `query_positions[q]`, key frame `key_positions[k]`);
    see the module docstring for the layout."""
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    values = torch.as_tensor(scores).detach().double().cpu().numpy()
    if values.shape != (len(query_positions), len(key_positions)) or 0 in values.shape:
        raise ValueError(
            f"scores is {values.shape}, expected one row per query frame and one column per key "
            f"frame ({len(query_positions)}, {len(key_positions)})."
        )
    if not seconds_per_position > 0:
        raise ValueError(f"seconds_per_position must be positive, got {seconds_per_position}.")
    step = seconds_per_position
    grid, (q_first, q_last), (k_first, k_last) = _grid(values, query_positions, key_positions)
    key_span = (k_first * step, (k_last + 1) * step)
    query_span = (q_first * step, (q_last + 1) * step)

    mel = None if spectrogram is None else as_log_mel(spectrogram).numpy()
    if mel is None:
        fig, ax = plt.subplots(figsize=(7.5, 6.5), constrained_layout=True)
        key_mel_ax = query_mel_ax = None
    else:
        fig, axes = plt.subplots(
            2,
            2,
            figsize=(9.5, 8.5),
            width_ratios=[1.0, 4.0],
            height_ratios=[1.0, 4.0],
            constrained_layout=True,
        )
        axes[0, 0].set_axis_off()
        key_mel_ax, query_mel_ax, ax = axes[0, 1], axes[1, 0], axes[1, 1]

    cmap = colormaps["viridis"].with_extremes(bad=GAP_COLOUR)
    finite = grid[np.isfinite(grid)]
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        cmap=cmap,
        vmin=0.0,
        vmax=max(float(finite.max()) if finite.size else 1.0, 1e-12),
        interpolation="nearest",
        aspect="auto",
        extent=(key_span[0], key_span[1], query_span[1], query_span[0]),
    )
    ax.set_xlim(*key_span)
    ax.set_ylim(query_span[1], query_span[0])
    ax.set_xlabel("key time (s): the frame whose value is zeroed")
    ax.set_ylabel("query time (s)")
    fig.colorbar(
        image, ax=ax, label=MIXING_LABEL, location="bottom" if mel is not None else "right"
    )

    key_labels = _words_in(words, key_span)
    query_labels = _words_in(words, query_span)
    if mel is None:
        key_words = _word_row(ax, "x", "top", key_labels)
        query_words = _word_row(ax, "y", "right", query_labels)
    else:
        ax.yaxis.tick_right()
        ax.yaxis.set_label_position("right")
        _draw_mel(key_mel_ax, mel, key_span, across=True)
        _draw_mel(query_mel_ax, mel, query_span, across=False)
        key_words = _word_row(key_mel_ax, "x", "top", key_labels)
        query_words = _word_row(query_mel_ax, "y", "left", query_labels)
    key_edges = merged_edges(sorted({e for _, s, t in key_labels for e in (s, t)}))
    query_edges = merged_edges(sorted({e for _, s, t in query_labels for e in (s, t)}))
    for x in key_edges:
        ax.axvline(x, **BOUNDARY_STYLE)
        if key_mel_ax is not None:
            key_mel_ax.axvline(x, **MEL_BOUNDARY_STYLE)
    for y in query_edges:
        ax.axhline(y, **BOUNDARY_STYLE)
        if query_mel_ax is not None:
            query_mel_ax.axhline(y, **MEL_BOUNDARY_STYLE)
    if title:
        fig.suptitle(title)
    return ContextMixingPlot(
        ax, image, key_words, query_words, key_edges, query_edges, key_mel_ax, query_mel_ax
    )


def _grid(values: np.ndarray, queries: Sequence[int], keys: Sequence[int]):
    """The scores on the full grid of frames from the first to the last chosen, NaN between."""
    q_first, q_last, k_first, k_last = min(queries), max(queries), min(keys), max(keys)
    grid = np.full((q_last - q_first + 1, k_last - k_first + 1), np.nan)
    rows = np.asarray(queries) - q_first
    columns = np.asarray(keys) - k_first
    grid[np.ix_(rows, columns)] = values
    return grid, (q_first, q_last), (k_first, k_last)


def _words_in(words, span: tuple[float, float]) -> list[tuple[str, float, float]]:
    """The words that overlap `span`, cut to it."""
    return [
        (word, max(start, span[0]), min(end, span[1]))
        for word, start, end in words
        if end > span[0] and start < span[1]
    ]


def _word_row(ax, axis: str, side: str, labels):
    """Words at their centres on a tick row on `side` of `ax` (None without words)."""
    if not labels:
        return None
    centres = [(start + end) / 2 for _, start, end in labels]
    names = [word for word, _, _ in labels]
    if axis == "x":
        row = ax.secondary_xaxis(side)
        row.set_xticks(centres, names, rotation=0 if len(names) <= 12 else 90)
    else:
        row = ax.secondary_yaxis(side)
        row.set_yticks(centres, names)
    row.tick_params(length=0)
    return row


def _draw_mel(ax, mel: np.ndarray, span: tuple[float, float], across: bool) -> None:
    """The log-mel over time `span`: time across (`across`) or down, low bins at the bottom /
    on the left."""
    n_mels, n_frames = mel.shape
    end = n_frames * SECONDS_PER_MEL_FRAME
    if span[1] > end + 1e-6:
        raise ValueError(
            f"The map reaches {span[1]:.2f} s but the spectrogram covers 0-{end:.2f} s: pass "
            "the log-mel of the clip the map was computed on."
        )
    if across:
        ax.imshow(
            mel,
            origin="lower",
            aspect="auto",
            cmap="magma",
            interpolation="nearest",
            extent=(0.0, end, -0.5, n_mels - 0.5),
        )
        ax.set_xlim(*span)
        ax.tick_params(labelbottom=False)
        ax.set_ylabel("mel bin")
    else:
        ax.imshow(
            mel.T,
            origin="upper",
            aspect="auto",
            cmap="magma",
            interpolation="nearest",
            extent=(-0.5, n_mels - 0.5, end, 0.0),
        )
        ax.set_ylim(span[1], span[0])
        ax.tick_params(labelleft=False)
        ax.set_xlabel("mel bin")
