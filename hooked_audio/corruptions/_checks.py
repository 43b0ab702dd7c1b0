"""Input checks shared by the corruption functions (private).

Every failure raises :class:`hooked_audio.audio.AudioInputError` with a message that names
the problem and the fix.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from hooked_audio.audio.checks import check_samples
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio, carried_rate
from hooked_audio.constants import SAMPLE_RATE

Span = tuple[float, float]


def check_rate(sample_rate: object, fn: str) -> int:
    """Refuse any sample rate other than Whisper's 16 kHz."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise AudioInputError(
            f"{fn}: sample_rate must be 16000 (an int), got {sample_rate!r}; "
            "resample first with hooked_audio.load_audio(audio, sample_rate=<its rate>)."
        )
    if sample_rate != SAMPLE_RATE:
        raise AudioInputError(
            f"{fn}: corruptions work on 16 kHz audio, got sample_rate={sample_rate!r}; "
            f"resample first with hooked_audio.load_audio(audio, sample_rate={sample_rate!r}), "
            "which returns 16 kHz mono float32."
        )
    return SAMPLE_RATE


def check_audio(audio: object, fn: str, name: str = "audio") -> np.ndarray:
    """Return ``audio`` as a fresh 1-D float32 copy, or raise.

    Refuses: non-arrays, an :class:`Audio` at another rate than 16 kHz, integer PCM
    (scale it with ``load_audio``), non-1-D input (stereo: ``load_audio`` downmixes),
    empty input, NaN/inf samples.
    """
    rate = carried_rate(audio)
    if rate is not None and rate != SAMPLE_RATE:
        raise AudioInputError(
            f"{fn}: {name} is {rate} Hz audio but must be 16 kHz; resample it first with "
            "hooked_audio.load_audio(audio), which returns 16 kHz mono float32."
        )
    if isinstance(audio, (str, bytes)) or audio is None:
        raise AudioInputError(
            f"{fn}: {name} must be a 1-D float waveform array, got {type(audio).__name__}; "
            f"load files with hooked_audio.load_audio(path) first."
        )
    try:
        arr = np.asarray(audio)
    except Exception as e:  # pragma: no cover - exotic objects
        raise AudioInputError(
            f"{fn}: could not read {name} as an array ({e}); pass a 1-D numpy float32 "
            "waveform, e.g. from hooked_audio.load_audio(...)."
        ) from e
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer))
        or arr.dtype == np.bool_
    ):
        raise AudioInputError(
            f"{fn}: {name} has dtype {arr.dtype}, not a float waveform; pass a 1-D float32 "
            "array, e.g. from hooked_audio.load_audio(...)."
        )
    if np.issubdtype(arr.dtype, np.integer):
        raise AudioInputError(
            f"{fn}: {name} is integer PCM (dtype {arr.dtype}); convert it to float samples in "
            "[-1, 1] with hooked_audio.load_audio(audio, sample_rate=...), which scales PCM."
        )
    if arr.ndim != 1:
        hint = " (looks like multi-channel audio)" if arr.ndim == 2 else ""
        raise AudioInputError(
            f"{fn}: {name} must be 1-D mono, got shape {arr.shape}{hint}; use "
            "hooked_audio.load_audio(audio, sample_rate=...), which downmixes stereo to mono "
            "and resamples to 16 kHz."
        )
    check_samples(arr, f"{fn}: {name}")
    return np.array(arr, dtype=np.float32, copy=True)


def as_audio(samples: np.ndarray) -> Audio:
    """A corruption's result: float32 :class:`Audio` at 16 kHz."""
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), SAMPLE_RATE)


def check_finite(value: object, fn: str, name: str, hint: str = "") -> float:
    """Return ``value`` as a finite float, or raise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise AudioInputError(
            f"{fn}: {name} must be a finite number, got {value!r}{'; ' + hint if hint else ''}."
        )
    return float(value)


def check_positive(value: object, fn: str, name: str, hint: str = "") -> float:
    """Return ``value`` as a finite float > 0, or raise."""
    v = check_finite(value, fn, name, hint)
    if v <= 0:
        raise AudioInputError(
            f"{fn}: {name} must be > 0, got {value!r}{'; ' + hint if hint else ''}."
        )
    return v


def span_to_slice(
    span: Sequence[float] | None, n_samples: int, fn: str, sample_rate: int = SAMPLE_RATE
) -> slice:
    """Convert ``(start_s, end_s)`` seconds to a sample ``slice``; ``None`` is the whole clip.

    Sample indices are ``round(t * sample_rate)``, so the span covers samples
    ``[round(start_s * sr), round(end_s * sr))``. The span must lie inside the clip
    (``0 <= start_s < end_s <= duration``, with half a sample of tolerance at the end)
    and cover at least one sample.
    """
    if span is None:
        return slice(0, n_samples)
    duration = n_samples / sample_rate
    try:
        start_s, end_s = span  # type: ignore[misc]
    except (TypeError, ValueError):
        raise AudioInputError(
            f"{fn}: span must be a pair (start_s, end_s) in seconds, got {span!r}; "
            "e.g. span=(1.0, 1.5)."
        ) from None
    start_s = check_finite(start_s, fn, "span start (seconds)", "e.g. span=(1.0, 1.5)")
    end_s = check_finite(end_s, fn, "span end (seconds)", "e.g. span=(1.0, 1.5)")
    if end_s <= start_s:
        raise AudioInputError(
            f"{fn}: span end must be after its start, got ({start_s}, {end_s}); "
            "pass (start_s, end_s) with end_s > start_s."
        )
    start, end = int(round(start_s * sample_rate)), int(round(end_s * sample_rate))
    if start < 0 or end > n_samples:
        raise AudioInputError(
            f"{fn}: span ({start_s}, {end_s}) s lies outside the audio, which lasts "
            f"{duration:.4f} s ({n_samples} samples at {sample_rate} Hz); "
            f"keep 0 <= start_s < end_s <= {duration:.4f}."
        )
    if end <= start:
        raise AudioInputError(
            f"{fn}: span ({start_s}, {end_s}) s is shorter than one sample at "
            f"{sample_rate} Hz; widen it."
        )
    return slice(start, end)
