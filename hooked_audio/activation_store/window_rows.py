"""Clips in, one row per position out: the windows of many clips run through a source a batch
at a time, each window's audio positions with their times and words. What the store writer
writes and what an SAE trains on when it streams (`hooked_audio.sae.activations`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.constants import SAMPLE_RATE

T = TypeVar("T")


@dataclass
class Window:
    clip: StoreClip
    index: int  # of the window within its clip
    start: int  # first sample
    samples: np.ndarray


@dataclass
class WindowRows:
    """One window's rows: `values[hook]` `[rows, features]` float32 at `positions` (of the
    window), `times` (seconds from the clip's start) and `words` (the clip's word there, or
    None); `n_windows` is how many windows its clip has."""

    window: Window
    n_windows: int
    positions: np.ndarray
    times: np.ndarray
    words: list[str | None]
    values: dict[str, np.ndarray]


def windows_of(clip: StoreClip, window_samples: int) -> list[Window]:
    """Consecutive windows covering the clip (the last one shorter)."""
    audio = np.asarray(clip.audio, dtype=np.float32)
    n = max(1, math.ceil(len(audio) / window_samples))
    return [
        Window(clip, i, i * window_samples, audio[i * window_samples : (i + 1) * window_samples])
        for i in range(n)
    ]


def in_batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last shorter), read lazily: how every source runs its
    windows or clips a batch per forward. (`itertools.batched` is Python 3.12+.)"""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def word_at(words, time_s: float) -> str | None:
    for word, start, end in words:
        if start <= time_s < end:
            return word
    return None


def window_rows(
    source, clips: Iterable[StoreClip], hooks: list[str], batch_size: int, padding: bool
) -> Iterator[WindowRows]:
    """Every window of every clip, in order, run `batch_size` windows per forward of `source`
    (`WhisperEncoderSource`, ...). `padding=False` keeps the positions that hold audio (a 2 s
    window has 100 of Whisper's 1500); True keeps them all. Clips are read lazily, so an
    endless or very long iterable streams in bounded memory."""
    step = source.samples_per_position

    def run(batch: list[tuple[Window, int]]) -> Iterator[WindowRows]:
        acts = source.activations([w.samples for w, _ in batch], hooks)
        n_positions = acts[hooks[0]].shape[1]
        for b, (window, n_windows) in enumerate(batch):
            keep = (
                n_positions if padding else min(n_positions, math.ceil(len(window.samples) / step))
            )
            positions = np.arange(keep, dtype=np.int32)
            times = (window.start + positions.astype(np.float64) * step) / SAMPLE_RATE
            yield WindowRows(
                window,
                n_windows,
                positions,
                times,
                [word_at(window.clip.words, t) for t in times],
                {hook: acts[hook][b, :keep].numpy() for hook in hooks},
            )

    def counted_windows() -> Iterator[tuple[Window, int]]:
        for clip in clips:
            windows = windows_of(clip, source.window_samples)
            yield from ((window, len(windows)) for window in windows)

    for batch in in_batches(counted_windows(), batch_size):
        yield from run(batch)
