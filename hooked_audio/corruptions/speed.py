"""Speed change by resampling: changes duration *and* pitch together (tape-speed effect).

This is the one corruption whose purpose is to change duration, so by default the output
length is ``round(len(audio) / factor)``. With ``keep_length=True`` the result is trimmed
at the end or zero-padded at the end to the input's sample count; note that even then the
content is *not* time-aligned with the input (an event at ``t`` moves to ``t / factor``),
so clean and corrupt 20 ms frames do not correspond. For a duration- and
alignment-preserving change of pitch use :func:`hooked_audio.corruptions.pitch_shift`.
"""

from __future__ import annotations

import numpy as np
import soxr

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.corruptions._checks import as_audio, check_audio, check_positive, check_rate


def speed(
    audio: np.ndarray,
    factor: float,
    keep_length: bool = False,
    *,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Play ``audio`` ``factor`` times faster: ``factor=2`` halves the duration and
    doubles every frequency (+12 semitones); ``factor=0.5`` doubles the duration and
    halves the frequencies.

    Implemented as ``soxr.resample(audio, 16000 * factor, 16000, quality="HQ")``: the
    samples are reinterpreted as recorded at ``16000 * factor`` Hz and resampled back to
    16 kHz. Speeding up (``factor > 1``) low-pass filters away content that would land
    above 8 kHz.

    Args:
        audio: mono float32 waveform at 16 kHz.
        factor: speed ratio, > 0 (and finite).
        keep_length: if True, trim or zero-pad (at the end) to the input's sample count.
            Default False: the output has ``round(len(audio) / factor)`` samples.
        sample_rate: must be 16000.
    """
    fn = "speed"
    check_rate(sample_rate, fn)
    x = check_audio(audio, fn)
    factor = check_positive(factor, fn, "factor", "e.g. factor=1.1 for 10% faster")
    if factor == 1.0:
        return as_audio(x)
    n_out = int(round(x.size / factor))
    if n_out < 1:
        raise AudioInputError(
            f"{fn}: factor={factor} would leave fewer than one sample of a {x.size}-sample "
            "clip; use a smaller factor or longer audio."
        )
    y = soxr.resample(x, SAMPLE_RATE * factor, SAMPLE_RATE, quality="HQ")
    y = y.astype(np.float32, copy=False)
    # soxr's length is round(n / factor) in practice; enforce it so the contract is exact.
    if y.size > n_out:
        y = y[:n_out]
    elif y.size < n_out:
        y = np.concatenate([y, np.zeros(n_out - y.size, np.float32)])
    if keep_length:
        if y.size > x.size:
            y = y[: x.size]
        elif y.size < x.size:
            y = np.concatenate([y, np.zeros(x.size - y.size, np.float32)])
    return as_audio(y)
