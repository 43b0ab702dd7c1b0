"""A cross-attention pattern as tokens x time: where each decoder query looks in the audio.

Query rows run top to bottom in sequence order, labelled with their tokens; audio position `p`
is drawn over `[p, p + 1) * seconds_per_position` (20 ms for Whisper), the convention of the
sweep heatmaps and `plot_log_mel`, so the pattern lines up with the log-mel above it and with
word times. Words given as `(word, start_s, end_s)` are labelled at their centres on a tick row
above the pattern, with their edges as thin vertical lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.constants import SECONDS_PER_POSITION
from hooked_audio.plots.spectrogram import SECONDS_PER_MEL_FRAME, LogMelLike, plot_log_mel
from hooked_audio.plots.sweep_figure import MEL_BOUNDARY_STYLE
from hooked_audio.plots.sweep_heatmap import label_time_spans

PATTERN_LABEL = "attention weight"


@dataclass
class CrossAttentionPlot:
    """What `plot_cross_attention` drew: the pattern's image on `ax`, the word tick row (None
    without words) and the x of the word edges; `mel_ax` when a log-mel was drawn above."""

    ax: object
    image: object
    label_axis: object | None
    boundaries: list[float]
    mel_ax: object | None = None


def plot_cross_attention(
    pattern: Float[Tensor, "query position"] | np.ndarray,
    query_labels: Sequence[str],
    words: Sequence[tuple[str, float, float]] = (),
    seconds_per_position: float = SECONDS_PER_POSITION,
    spectrogram: LogMelLike | None = None,
    title: str | None = None,
    ax=None,
) -> CrossAttentionPlot:
    """Draw one head's cross-attention `pattern` (`[query, position]`, e.g.
    `cache["decoder.blocks.2.cross_attn.hook_pattern"][0, 4, :, :n]` for the clip's first `n`
    positions) with the queries labelled by `query_labels` and `words` marked on the time axis.
    With `spectrogram` (the clip's log-mel) it goes above the pattern on a shared time axis;
    `ax` is then two axes (log-mel, pattern), else one. The colour scale runs from 0 to the
    largest weight drawn."""
    import matplotlib.pyplot as plt

    values = _check_pattern(pattern, query_labels, seconds_per_position)
    n_queries, n_positions = values.shape
    duration = n_positions * seconds_per_position
    for word, start, end in words:
        if not 0 <= start < end <= duration + 1e-6:
            raise ValueError(
                f"Word {word!r} at {start:.2f}-{end:.2f} s lies outside the pattern's "
                f"0-{duration:.2f} s ({n_positions} positions): give the times of the clip the "
                "pattern was computed on, and enough positions to cover them."
            )
    if ax is None:
        rows, ratios = (
            (2, [2.0, max(2.4, 0.22 * n_queries)]) if spectrogram is not None else (1, None)
        )
        height = max(2.4, 0.22 * n_queries) + (2.0 if spectrogram is not None else 0.0) + 1.2
        _, ax = plt.subplots(
            rows,
            1,
            sharex=True,
            figsize=(10.0, height),
            height_ratios=ratios,
            constrained_layout=True,
        )
    mel_ax = None
    if spectrogram is not None:
        if np.ndim(ax) != 1 or len(ax) != 2:
            raise ValueError(
                "With spectrogram=, ax must be two axes (log-mel, pattern) sharing x, e.g. "
                "plt.subplots(2, 1, sharex=True)[1]; or leave ax=None."
            )
        mel_ax, ax = ax
        plot_log_mel(mel_ax, spectrogram, SECONDS_PER_MEL_FRAME, colorbar=True)
    image = ax.imshow(
        values,
        aspect="auto",
        cmap="viridis",
        interpolation="nearest",
        vmin=0.0,
        vmax=max(float(values.max()), 1e-12),
        extent=(0.0, duration, n_queries - 0.5, -0.5),
    )
    ax.set_yticks(range(n_queries), list(query_labels))
    ax.set_ylabel("query token (predicts the next)")
    ax.set_xlabel("time (s)")
    ax.set_xlim(0.0, duration)
    ax.figure.colorbar(image, ax=ax, label=PATTERN_LABEL)
    spans = [(start, end) for _, start, end in words]
    label_axis, boundaries = label_time_spans(ax, spans, [word for word, _, _ in words])
    if mel_ax is not None:
        mel_ax.set_xlim(0.0, duration)
        mel_ax.set_xlabel("")
        mel_ax.tick_params(labelbottom=False)
        for x in boundaries:
            mel_ax.axvline(x, **MEL_BOUNDARY_STYLE)
        if title:
            mel_ax.set_title(title)
    elif title:
        ax.set_title(title)
    return CrossAttentionPlot(ax, image, label_axis, boundaries, mel_ax)


def _check_pattern(pattern, query_labels: Sequence[str], seconds_per_position: float) -> np.ndarray:
    values = torch.as_tensor(pattern).detach().float().cpu().numpy()
    if values.ndim != 2 or 0 in values.shape:
        raise ValueError(
            f"pattern must be one head's [query, position] weights, got shape {values.shape}: "
            "pick a batch item and head, e.g. cache[name][0, head]."
        )
    if not np.isfinite(values).all():
        raise ValueError("pattern holds NaN or infinite weights; plot a pattern of a finite run.")
    if isinstance(query_labels, str) or len(query_labels) != values.shape[0]:
        raise ValueError(
            f"query_labels must give one string per query row ({values.shape[0]}), e.g. "
            "model.to_str_tokens(tokens)."
        )
    if not seconds_per_position > 0:
        raise ValueError(
            f"seconds_per_position must be positive, got {seconds_per_position} (Whisper: 0.02)."
        )
    return values
