"""Span edits: mask, replace with other audio, reverse in time.

All keep the sample count, and everything outside the span is unchanged bit for bit.
Spans are ``(start_s, end_s)`` in seconds and cover samples
``[round(start_s * 16000), round(end_s * 16000))``. One Whisper encoder frame is 20 ms =
320 samples, so a span from ``0.02 * i`` to ``0.02 * j`` covers frames ``i..j-1`` exactly
(the conv stem's receptive field still lets neighbouring frames see a little of the edit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.corruptions._checks import (
    as_audio,
    check_audio,
    check_finite,
    check_rate,
    span_to_slice,
)


def mask_span(
    audio: np.ndarray,
    span: Sequence[float],
    fill: str | np.ndarray = "zeros",
    seed: int = 0,
    *,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Overwrite ``span`` with zeros, noise, or samples from another array.

    Args:
        audio: mono float32 waveform at 16 kHz.
        span: ``(start_s, end_s)`` in seconds (required).
        fill:
            * ``"zeros"``: exact digital silence (same as :func:`silence` on the span).
            * ``"noise"``: Gaussian white noise with the same RMS as the audio it replaces
              (energy kept, content removed). If the span is silent, the whole clip's RMS
              is used; if the whole clip is silent the span stays zero.
            * an array: either exactly as long as the span (its samples go into the span),
              or exactly as long as ``audio`` (the time-aligned samples
              ``fill[start:end]`` go in). Any other length is refused; for other offsets use
              :func:`replace_span`.
        seed: seed for ``fill="noise"``.
        sample_rate: must be 16000.
    """
    fn = "mask_span"
    check_rate(sample_rate, fn)
    out = check_audio(audio, fn)
    if span is None:
        raise AudioInputError(
            f"{fn}: span is required, e.g. span=(1.0, 1.5); to silence the whole clip use "
            "silence(audio)."
        )
    sl = span_to_slice(span, out.size, fn)
    n = sl.stop - sl.start
    if isinstance(fill, str):
        if fill == "zeros":
            out[sl] = 0.0
        elif fill == "noise":
            rms = float(np.sqrt(np.mean(out[sl].astype(np.float64) ** 2)))
            if rms == 0.0:
                rms = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
            noise = np.random.default_rng(seed).standard_normal(n)
            noise *= rms / max(float(np.sqrt(np.mean(noise**2))), 1e-30)
            out[sl] = noise.astype(np.float32)
        else:
            raise AudioInputError(
                f"{fn}: fill must be 'zeros', 'noise' or an array, got {fill!r}; e.g. fill='noise'."
            )
        return as_audio(out)
    other = check_audio(fill, fn, name="fill")
    if other.size == n:
        out[sl] = other
    elif other.size == out.size:
        out[sl] = other[sl]
    else:
        raise AudioInputError(
            f"{fn}: fill array has {other.size} samples but the span has {n} and the audio "
            f"{out.size}; pass an array of exactly one of those lengths, or use "
            "replace_span(audio, span, other, other_start_s=...) to choose the offset."
        )
    return as_audio(out)


def replace_span(
    audio: np.ndarray,
    span: Sequence[float],
    other_audio: np.ndarray,
    other_start_s: float = 0.0,
    *,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Copy ``other_audio`` into ``span``, reading it from ``other_start_s`` seconds on.

    ``out[start:end] = other_audio[o:o + (end - start)]`` with ``o =
    round(other_start_s * 16000)``. For a time-aligned swap between two recordings (e.g.
    clean and corrupt utterances of the same length), pass ``other_start_s=span[0]``;
    the default ``0.0`` takes the other clip from its beginning.

    Raises ``AudioInputError`` if ``other_audio`` has fewer than the needed samples after
    ``other_start_s``. There is no crossfade: the cut can click at the span edges.
    """
    fn = "replace_span"
    check_rate(sample_rate, fn)
    out = check_audio(audio, fn)
    other = check_audio(other_audio, fn, name="other_audio")
    sl = span_to_slice(span, out.size, fn)
    n = sl.stop - sl.start
    start_s = check_finite(other_start_s, fn, "other_start_s", "e.g. other_start_s=0.0")
    o = int(round(start_s * SAMPLE_RATE))
    if o < 0:
        raise AudioInputError(
            f"{fn}: other_start_s must be >= 0, got {other_start_s!r}; pass a start inside "
            "other_audio."
        )
    if o + n > other.size:
        raise AudioInputError(
            f"{fn}: other_audio has {other.size} samples ({other.size / SAMPLE_RATE:.4f} s) but "
            f"the span needs {n} samples from {start_s} s, i.e. up to "
            f"{(o + n) / SAMPLE_RATE:.4f} s; use a longer other_audio, an earlier other_start_s, "
            "or a shorter span."
        )
    out[sl] = other[o : o + n]
    return as_audio(out)


def reverse_span(
    audio: np.ndarray, span: Sequence[float], *, sample_rate: int = SAMPLE_RATE
) -> Audio:
    """Time-reverse the samples inside ``span``; applying it twice restores the input.

    Reversal keeps the span's long-term spectrum and energy but destroys its temporal
    order (formant transitions, onsets), a classic control for "does the model use the
    order of events inside this window". It is an involution on samples, so
    ``reverse_span(reverse_span(x, s), s) == x`` exactly.
    """
    fn = "reverse_span"
    check_rate(sample_rate, fn)
    out = check_audio(audio, fn)
    sl = span_to_slice(span, out.size, fn)
    out[sl] = out[sl][::-1].copy()
    return as_audio(out)
