"""Recordings longer than Whisper's 30 s window, in the recording's own time.

A `LongClip` cuts a recording into consecutive windows of the model's length (the last one
shorter, padded as Whisper pads it). Positions keep a global time: position `p` of window
`w` starts `w * window_seconds + p * 0.02` s into the recording, and `run_with_cache` and
`long_clip_sweep` report that time, so a map of a 2-minute recording reads in seconds of it.

What crosses windows, and what does not. Whisper encodes each window on its own: no encoder
activation of one window depends on another window's audio, and a window's decoder reads
only its own window's encoder output through cross-attention. The one thing that crosses is
the decoder's text context: openai-whisper's `transcribe` prompts each window with the text
decoded so far. A sweep here runs the window that holds its metric, teacher-forced on the
tokens given, so a patch can move only that window's metric; an effect on later windows
would have to travel through their transcript, which these sweeps hold fixed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from hooked_audio.audio import Audio, AudioLike, load_audio
from hooked_audio.constants import SAMPLE_RATE, SECONDS_PER_POSITION
from hooked_audio.patching import layer_sweep, time_cells
from hooked_audio.patching.sweep_result import SweepResult


@dataclass(frozen=True)
class LongClip:
    """A recording as consecutive windows of `window_samples` (480000 = 30 s)."""

    audio: Audio
    window_samples: int

    @classmethod
    def of(cls, model, audio: AudioLike, sample_rate: int | None = None) -> LongClip:
        return cls(load_audio(audio, sample_rate), model.window_samples)

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def window_seconds(self) -> float:
        return self.window_samples / SAMPLE_RATE

    @property
    def n_windows(self) -> int:
        return max(1, math.ceil(len(self.audio) / self.window_samples))

    def window_start(self, window: int) -> float:
        """Seconds from the recording's start to the window's."""
        if not 0 <= window < self.n_windows:
            raise IndexError(f"window {window} of a {self.n_windows}-window recording.")
        return window * self.window_seconds

    def window_of(self, seconds: float) -> int:
        """The window holding the time `seconds` of the recording."""
        if not 0 <= seconds < self.seconds:
            raise ValueError(
                f"{seconds:g} s lies outside the recording (0 to {self.seconds:.2f} s)."
            )
        return int(seconds // self.window_seconds)

    def window_audio(self, window: int) -> Audio:
        start = int(round(self.window_start(window) * SAMPLE_RATE))
        return Audio(self.audio[start : start + self.window_samples], SAMPLE_RATE)

    def frames(self, model, window: int) -> Tensor:
        """The window as `model`'s framed log-mel `[1, 2, n_mels, pos]`."""
        return model.to_frames(self.window_audio(window))

    def position_seconds(self, n_positions: int) -> Tensor:
        """`[window, position]`: each position's start in seconds of the recording."""
        local = torch.arange(n_positions, dtype=torch.float64) * SECONDS_PER_POSITION
        starts = torch.arange(self.n_windows, dtype=torch.float64) * self.window_seconds
        return starts[:, None] + local[None, :]

    def run_with_cache(self, model, tokens: Tensor, names_filter=None):
        """Every window in one batch (row `w` is window `w`), teacher-forced on `tokens` (one
        row, repeated for each window), with `position_seconds` for the cache's positions:
        `(logits, cache, seconds)`."""
        frames = model.to_frames(self.audio, chunk=True)
        tokens = tokens.expand(frames.shape[0], -1) if tokens.shape[0] == 1 else tokens
        logits, cache = model.run_with_cache(frames, tokens, names_filter=names_filter)
        return logits, cache, self.position_seconds(frames.shape[-1])


def differing_windows(clean: LongClip, corrupt: LongClip) -> list[int]:
    """The windows in which two recordings of the same length differ in any sample: where a
    corruption of a long recording can move a metric (the module docstring says why)."""
    if len(clean.audio) != len(corrupt.audio):
        raise ValueError(
            f"The recordings are {clean.seconds:.2f} s and {corrupt.seconds:.2f} s long; "
            "compare takes of the same length."
        )
    a, b = np.asarray(clean.audio), np.asarray(corrupt.audio)
    return [
        w
        for w in range(clean.n_windows)
        if not np.array_equal(
            a[w * clean.window_samples : (w + 1) * clean.window_samples],
            b[w * clean.window_samples : (w + 1) * clean.window_samples],
        )
    ]


def to_recording_time(result: SweepResult, offset_s: float, window: int) -> SweepResult:
    """`result` of one window with its cells' times (and time labels) in seconds of the
    recording; `metadata` gains `window` and `window_start_s`."""
    seconds = [(a + offset_s, b + offset_s) for a, b in result.cell_seconds]
    labels = [
        f"{a:.2f}-{b:.2f}s" if label == f"{a - offset_s:.2f}-{b - offset_s:.2f}s" else label
        for label, (a, b) in zip(result.cell_labels, seconds)
    ]
    metadata = {**result.metadata, "window": window, "window_start_s": offset_s}
    return dataclasses.replace(result, cell_seconds=seconds, cell_labels=labels, metadata=metadata)


def long_clip_sweep(
    model,
    clean: AudioLike,
    corrupt: AudioLike,
    tokens: Tensor,
    metric: Callable[[Tensor], Tensor],
    at_seconds: float,
    act: str = "resid_pre",
    direction: str = "denoise",
    layers: Sequence[int] | None = None,
    window_s: float = 0.1,
    spans_s: Sequence[tuple[float, float]] | None = None,
    sample_rate: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """`layer_sweep` of the window of a long recording that holds `at_seconds` (where the
    metric's word is spoken), teacher-forced on `tokens` (that window's transcript); cells
    are `window_s` windows over that window's audio, or `spans_s` (seconds of the recording,
    inside that window); the result's times are seconds of the recording. `clean` and
    `corrupt` are two takes of the same length (a minimal pair), of any length."""
    clips = [LongClip.of(model, a, sample_rate) for a in (clean, corrupt)]
    if len(clips[0].audio) != len(clips[1].audio):
        raise ValueError(
            f"clean is {clips[0].seconds:.2f} s and corrupt {clips[1].seconds:.2f} s: a long-form "
            "sweep patches position by position, so the two takes must be the same length "
            "(align them first, e.g. hooked_audio.corruptions.align_pair)."
        )
    window = clips[0].window_of(at_seconds)
    offset = clips[0].window_start(window)
    n_positions = model.dims.n_audio_ctx
    heard_s = min(clips[0].seconds - offset, clips[0].window_seconds)
    if spans_s is None:
        cells = time_cells.windows(n_positions, window_s=window_s, end_s=heard_s)
    else:
        outside = [s for s in spans_s if not offset <= s[0] < s[1] <= offset + heard_s]
        if outside:
            raise ValueError(
                f"spans {outside} are not inside window {window} ({offset:g}-"
                f"{offset + heard_s:.2f} s), the one that holds {at_seconds:g} s; nothing "
                "outside it can move its metric (the module docstring says why)."
            )
        cells = time_cells.spans(n_positions, [(a - offset, b - offset) for a, b in spans_s])
    result = layer_sweep(
        model.encoder_stream(tokens),
        clips[0].frames(model, window),
        clips[1].frames(model, window),
        metric,
        act,
        direction=direction,
        layers=layers,
        cells=cells.cells,
        batch_size=batch_size,
        progress=progress,
    )
    return to_recording_time(result, offset, window)
