"""`SweepResult.plot`: the heatmap, titled and labelled, alone or under the clip's log-mel."""

from __future__ import annotations

from collections.abc import Sequence

from hooked_audio.plots.spectrogram import SECONDS_PER_MEL_FRAME, LogMelLike, plot_log_mel
from hooked_audio.plots.sweep_heatmap import BOUNDARY_STYLE, draw_sweep_heatmap

MEL_BOUNDARY_STYLE = {**BOUNDARY_STYLE, "color": "white", "alpha": 0.8}


def plot_sweep(
    result,
    normalised: bool = True,
    ax=None,
    title: str | None = None,
    metric_name: str | None = None,
    tokens: Sequence[str] | None = None,
    spectrogram: LogMelLike | None = None,
    seconds_per_mel_frame: float = SECONDS_PER_MEL_FRAME,
    time_span: tuple[float, float] | None = None,
    spectrogram_start_s: float = 0.0,
):
    """Draw a `SweepResult`; see `SweepResult.plot` for the arguments and what comes back."""
    import matplotlib.pyplot as plt

    data = result.normalised() if normalised else result.values
    tick_labels = None if tokens is None else token_tick_labels(result, tokens)
    title = title or _title(result, normalised, metric_name)
    value_label = None if normalised else metric_name
    if spectrogram is None:
        if ax is None:
            _, ax = plt.subplots(figsize=_size(result, tick_labels), constrained_layout=True)
        drawn = draw_sweep_heatmap(
            ax,
            data,
            result.layers,
            result.cell_labels,
            result.cell_seconds,
            tick_labels,
            normalised,
            value_label,
            time_span,
            row_name=result.row_name,
        )
        ax.set_title(title)
        return drawn.ax
    if result.cell_seconds is None:
        raise ValueError(
            "spectrogram= needs cells in seconds, and this sweep's cells are token positions "
            "or heads; plot it without spectrogram=."
        )
    if ax is None:
        width, height = _size(result)
        _, ax = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=(width, height + 2.4),
            height_ratios=[2.4, height],
            constrained_layout=True,
        )
    if len(ax) != 2:
        raise ValueError(
            "With spectrogram=, ax must be two axes (spectrogram, heatmap) sharing x, e.g. "
            "plt.subplots(2, 1, sharex=True)[1]; or leave ax=None."
        )
    mel_ax, heat_ax = ax
    image = plot_log_mel(
        mel_ax, spectrogram, seconds_per_mel_frame, colorbar=True, start_s=spectrogram_start_s
    )
    first, last = image.get_extent()[:2]
    reach = (min(s for s, _ in result.cell_seconds), max(e for _, e in result.cell_seconds))
    if reach[0] < first - 1e-6 or reach[1] > last + 1e-6:
        raise ValueError(
            f"The cells span {reach[0]:.2f}-{reach[1]:.2f} s but the spectrogram covers "
            f"{first:.2f}-{last:.2f} s: pass the log-mel of the clip that was swept "
            "(model.to_mel(clean_audio)), and for a window of a long recording its start "
            "(spectrogram_start_s)."
        )
    drawn = draw_sweep_heatmap(
        heat_ax,
        data,
        result.layers,
        result.cell_labels,
        result.cell_seconds,
        None,
        normalised,
        value_label,
        time_span,
        row_name=result.row_name,
    )
    mel_ax.set_xlim(heat_ax.get_xlim())
    mel_ax.set_xlabel("")
    mel_ax.tick_params(labelbottom=False)
    for x in drawn.boundaries:
        mel_ax.axvline(x, **MEL_BOUNDARY_STYLE)
    mel_ax.set_title(title)
    return mel_ax, heat_ax


def token_tick_labels(result, tokens: Sequence[str]) -> list[str]:
    """Each cell's tick: the token strings of its positions, joined."""
    if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(
            "tokens= takes one string per token position, e.g. model.to_str_tokens(tokens)."
        )
    if result.cell_seconds is not None:
        raise ValueError(
            "tokens= labels token positions, but this sweep's cells are in seconds (an audio "
            "stream); its labels already name the times."
        )
    for cell, label in zip(result.cells, result.cell_labels):
        outside = [p for p in cell if not 0 <= p < len(tokens)]
        if outside:
            raise ValueError(
                f"Cell {label!r} holds positions {outside}, beyond the {len(tokens)} tokens "
                "given: pass the string tokens of the sequence that was swept."
            )
    return ["".join(tokens[p] for p in cell) for cell in result.cells]


def _title(result, normalised: bool, metric_name: str | None) -> str:
    what = f"{result.direction} {result.act}"
    if metric_name:
        what += f": {metric_name}"
    return what + (" (recovery)" if normalised else "")


def _size(result, tick_labels: Sequence[str] | None = None) -> tuple[float, float]:
    """Figure size: tall enough for the colorbar's label, and for rotated tick labels."""
    height = max(3.4, 1.8 + 0.35 * len(result.layers))
    if result.cell_seconds is not None:
        return 10.0, height
    ticks = tick_labels if tick_labels is not None else result.cell_labels
    longest = max((len(t) for t in ticks), default=0)
    width = max(7.0, min(14.0, 2 + 0.3 * len(result.cells)))
    return width, height + 0.08 * longest
