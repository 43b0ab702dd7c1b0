"""Cells in time for encoder-side sweeps: windows, spans in seconds, words, speech only.

A cell is a list of 20 ms encoder positions patched together. Windows trade resolution for
fewer forwards. Word cells need a model that can time words: for Whisper,
`hooked_audio.models.whisper.word_cells` (openai-whisper's cross-attention alignment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hooked_audio.constants import SECONDS_PER_POSITION


@dataclass(frozen=True)
class TimeCells:
    """Position groups with their labels and `(start, end)` seconds."""

    cells: list[list[int]]
    labels: list[str]
    seconds: list[tuple[float, float]]


def _frames(start_s: float, end_s: float, seconds_per_frame: float, n_frames: int) -> list[int]:
    first = max(0, int(math.floor(start_s / seconds_per_frame + 1e-9)))
    if first >= n_frames:
        raise ValueError(
            f"The span from {start_s:g} s starts after the input ends "
            f"({n_frames * seconds_per_frame:g} s, {n_frames} positions)."
        )
    last = min(n_frames, int(math.ceil(end_s / seconds_per_frame - 1e-9)))
    return list(range(first, max(last, first + 1)))


def windows(
    n_frames: int,
    window_s: float = 0.2,
    stride_s: float | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    seconds_per_frame: float = SECONDS_PER_POSITION,
) -> TimeCells:
    """Windows of `window_s` seconds every `stride_s` (default: no overlap) over `[start, end)`."""
    stride_s = window_s if stride_s is None else stride_s
    given = {"window_s": window_s, "stride_s": stride_s, "start_s": start_s}
    if end_s is not None:
        given["end_s"] = end_s
    bad = {name: value for name, value in given.items() if not math.isfinite(float(value))}
    if bad:
        raise ValueError(f"Window arguments must be finite numbers of seconds; got {bad}.")
    if window_s < seconds_per_frame or stride_s <= 0:
        raise ValueError(
            f"window_s must be at least one frame ({seconds_per_frame} s) and "
            f"stride_s positive; got {window_s}, {stride_s}."
        )
    if start_s < 0:
        raise ValueError(f"start_s must be >= 0 (the window starts at 0 s), got {start_s}.")
    end_s = (
        n_frames * seconds_per_frame if end_s is None else min(end_s, n_frames * seconds_per_frame)
    )
    if end_s <= start_s:
        raise ValueError(
            f"No window fits in [{start_s}, {end_s}) s: end_s must exceed start_s "
            f"and start_s lie within the {n_frames * seconds_per_frame:g} s input."
        )
    cells, labels, seconds = [], [], []
    t = start_s
    while t < end_s - 1e-9:
        stop = min(t + window_s, end_s)
        frames = _frames(t, stop, seconds_per_frame, n_frames)
        cells.append(frames)
        seconds.append((frames[0] * seconds_per_frame, (frames[-1] + 1) * seconds_per_frame))
        labels.append(f"{seconds[-1][0]:.2f}-{seconds[-1][1]:.2f}s")
        t += stride_s
    return TimeCells(cells, labels, seconds)


def spans(
    n_frames: int,
    spans_s: Sequence[tuple[float, float]],
    labels: Sequence[str] | None = None,
    seconds_per_frame: float = SECONDS_PER_POSITION,
) -> TimeCells:
    """One cell per `(start, end)` span in seconds."""
    cells, seconds = [], []
    if not spans_s:
        raise ValueError("`spans_s` is empty: give at least one (start, end) span in seconds.")
    for start, end in spans_s:
        if not 0 <= start < end:
            raise ValueError(f"Span ({start}, {end}) is empty or negative.")
        frames = _frames(start, end, seconds_per_frame, n_frames)
        cells.append(frames)
        seconds.append((frames[0] * seconds_per_frame, (frames[-1] + 1) * seconds_per_frame))
    labels = list(labels) if labels is not None else [f"{a:.2f}-{b:.2f}s" for a, b in seconds]
    return TimeCells(cells, labels, seconds)


def speech_frames(
    duration_s: float, n_frames: int, seconds_per_frame: float = SECONDS_PER_POSITION
) -> list[int]:
    """The frames that hold the audio itself, not the padding of the 30 s window."""
    if not duration_s > 0:
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s}.")
    return list(range(min(n_frames, math.ceil(duration_s / seconds_per_frame))))
