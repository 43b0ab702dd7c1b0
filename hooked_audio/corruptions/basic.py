"""Level corruptions: silence a span (or everything) and change the gain.

Both keep the sample count, and every sample stays where it was in time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.corruptions._checks import (
    as_audio,
    check_audio,
    check_finite,
    check_rate,
    span_to_slice,
)


def silence(
    audio: np.ndarray, span: Sequence[float] | None = None, *, sample_rate: int = SAMPLE_RATE
) -> Audio:
    """Return a copy of ``audio`` with ``span`` (seconds) set to exactly zero.

    Args:
        audio: mono float32 waveform at 16 kHz (``hooked_audio.load_audio`` gives one).
        span: ``(start_s, end_s)``; samples ``round(start_s*16000)`` up to (not including)
            ``round(end_s*16000)`` are zeroed. ``None`` zeroes the whole clip.
        sample_rate: must be 16000.

    Caveat: digital silence is itself out of distribution for speech models (real pauses
    have room noise), and a hard cut creates clicks at the span edges. For a "no speech
    here" counterfactual, ``mask_span(..., fill="noise")`` or a low-SNR ``white_noise``
    may be gentler; report which one you used.
    """
    check_rate(sample_rate, "silence")
    out = check_audio(audio, "silence")
    out[span_to_slice(span, out.size, "silence")] = 0.0
    return as_audio(out)


def gain(audio: np.ndarray, db: float, *, sample_rate: int = SAMPLE_RATE) -> Audio:
    """Return ``audio`` scaled by ``db`` decibels (amplitude factor ``10 ** (db / 20)``).

    Sign convention: positive ``db`` is louder (+6.02 dB doubles the amplitude), negative
    is quieter. The result is not clipped: a large positive gain can leave ``|x| > 1``;
    clip it yourself (``np.clip(x, -1, 1)``) if you want a clipping corruption.

    Note that Whisper's log-mel is clamped to 8 (log10 units) below its maximum and then
    rescaled, so a pure gain change mostly shifts the quiet parts of the spectrogram.
    """
    check_rate(sample_rate, "gain")
    out = check_audio(audio, "gain")
    db = check_finite(db, "gain", "db", "pass a gain in decibels, e.g. db=-6.0")
    out *= np.float32(10.0 ** (db / 20.0))
    return as_audio(out)
