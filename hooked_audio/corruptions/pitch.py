"""Pitch and formant shifts that keep duration and time alignment (Praat, via parselmouth).

Both functions return exactly ``len(audio)`` samples, and events stay where they were in
time, so clean and corrupt 20 ms Whisper frames correspond one to one (which is what makes
frame-wise activation patching between them meaningful). Contrast :func:`speed`, which
changes pitch by changing duration.

Backend: Praat's PSOLA (pitch-synchronous overlap-add) through ``praat-parselmouth``.
The WORLD vocoder (``pyworld``) was the first choice, but pyworld 0.3.5 (the current
release) does ``import pkg_resources`` at import time, which setuptools >= 81 no longer
provides, so it fails to import in a current environment (and pip built it from source
here: no wheel for this Python). parselmouth ships binary wheels and works with numpy 2.x
from 0.4.4 on (earlier releases return wrong time axes under numpy 2, Parselmouth issue
#125), hence ``praat-parselmouth>=0.4.4``.

Caveats:
    * Only *voiced* stretches are changed by :func:`pitch_shift`; unvoiced sounds
      (fricatives, noise, silence) pass through. Audio with no detected voicing is
      returned essentially unchanged, with a warning.
    * The pitch analysis searches ``pitch_floor``..``pitch_ceiling`` Hz (defaults 75..600,
      Praat's defaults for speech). A voice outside that range is not tracked; raise the
      ceiling for children's voices or singing. The analysis needs at least three periods
      of the floor, so clips shorter than ``3 / pitch_floor`` seconds are refused.
    * PSOLA is transparent for modest shifts (a few semitones); large shifts (an octave)
      sound processed, and the output is not bit-identical to the input even at 0 shift
      (it is resynthesised).
"""

from __future__ import annotations

import warnings

import numpy as np

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.corruptions._checks import (
    as_audio,
    check_audio,
    check_finite,
    check_positive,
    check_rate,
)


def _praat():
    try:
        import parselmouth
        from parselmouth.praat import call
    except ImportError as e:  # pragma: no cover - dependency is in install_requires
        raise ImportError(
            "pitch_shift/formant_shift need praat-parselmouth; pip install praat-parselmouth"
        ) from e
    return parselmouth, call


def _analysis_range(
    x: np.ndarray, pitch_floor: object, pitch_ceiling: object, fn: str
) -> tuple[float, float]:
    """The checked f0 search range `(floor, ceiling)` of Praat's pitch analysis for `x`."""
    floor = check_positive(pitch_floor, fn, "pitch_floor", "e.g. pitch_floor=75")
    ceiling = check_positive(pitch_ceiling, fn, "pitch_ceiling", "e.g. pitch_ceiling=600")
    if ceiling <= floor:
        raise AudioInputError(
            f"{fn}: pitch_ceiling ({ceiling}) must exceed pitch_floor ({floor}); "
            "e.g. pitch_floor=75, pitch_ceiling=600."
        )
    min_s = 3.0 / floor
    if x.size / SAMPLE_RATE < min_s:
        raise AudioInputError(
            f"{fn}: audio lasts {x.size / SAMPLE_RATE:.4f} s, shorter than the {min_s:.4f} s "
            f"(three periods of pitch_floor={floor} Hz) the pitch analysis needs; pass "
            "longer audio or raise pitch_floor."
        )
    return floor, ceiling


def _fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad at the end to exactly ``n`` samples (PSOLA keeps the time axis)."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if y.size > n:
        return np.ascontiguousarray(y[:n])
    if y.size < n:
        return np.concatenate([y, np.zeros(n - y.size, np.float32)])
    return np.ascontiguousarray(y)


def _run(fn_name: str, body, unvoiced: str):
    parselmouth, _ = _praat()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = body()
        except parselmouth.PraatError as e:
            raise AudioInputError(
                f"{fn_name}: Praat could not process this audio ({str(e).splitlines()[0]}); "
                "check the pitch_floor/pitch_ceiling range and the clip's length."
            ) from e
    for w in caught:
        if "no voiced" in str(w.message).lower():
            warnings.warn(
                f"{fn_name}: no voiced segments were found between pitch_floor and "
                f"pitch_ceiling, so {unvoiced}; check the audio contains speech or widen "
                "the pitch range.",
                UserWarning,
                stacklevel=3,
            )
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def pitch_shift(
    audio: np.ndarray,
    semitones: float,
    *,
    pitch_floor: float = 75.0,
    pitch_ceiling: float = 600.0,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Shift the fundamental frequency by ``semitones``, keeping duration and timing.

    Sign convention: positive is higher (``+12`` doubles f0, ``-12`` halves it); f0 is
    multiplied by ``2 ** (semitones / 12)``. Formants (the spectral envelope) are kept, as
    are the durations and positions of all events. Implemented with Praat: ``To
    Manipulation`` (10 ms time step), every pitch point multiplied, ``Get resynthesis
    (overlap-add)``; then the output is trimmed/zero-padded to exactly ``len(audio)``.

    Args:
        audio: mono float32 waveform at 16 kHz.
        semitones: the shift; finite, may be fractional or negative.
        pitch_floor, pitch_ceiling: f0 search range of the analysis, in Hz.
        sample_rate: must be 16000.

    See the module docstring for caveats (voiced parts only; analysis range; short clips).
    """
    fn = "pitch_shift"
    check_rate(sample_rate, fn)
    x = check_audio(audio, fn)
    semitones = check_finite(semitones, fn, "semitones", "e.g. semitones=2.0")
    floor, ceiling = _analysis_range(x, pitch_floor, pitch_ceiling, fn)
    if semitones == 0.0:
        return as_audio(x)
    parselmouth, call = _praat()
    ratio = 2.0 ** (semitones / 12.0)

    def body():
        snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=float(SAMPLE_RATE))
        manip = call(snd, "To Manipulation", 0.01, floor, ceiling)
        tier = call(manip, "Extract pitch tier")
        if call(tier, "Get number of points") == 0:
            warnings.warn("There were no voiced segments found.", stacklevel=2)
            return x
        call(tier, "Multiply frequencies", snd.xmin, snd.xmax, ratio)
        call([tier, manip], "Replace pitch tier")
        return call(manip, "Get resynthesis (overlap-add)").values[0]

    return as_audio(_fix_length(_run(fn, body, "the pitch was left unchanged"), x.size))


def formant_shift(
    audio: np.ndarray,
    ratio: float,
    *,
    pitch_floor: float = 75.0,
    pitch_ceiling: float = 600.0,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Scale all formant frequencies (the spectral envelope) by ``ratio``, keeping f0,
    duration and timing.

    Sign convention: ``ratio > 1`` moves formants up (towards a shorter, e.g. child's,
    vocal tract; the spectral centroid rises), ``ratio < 1`` moves them down; ``1`` is a
    no-op. Typical useful range 0.8..1.25. Implemented with Praat's ``Change gender``
    (formant shift ratio = ``ratio``, new pitch median 0 = unchanged, pitch range factor
    1, duration factor 1): the sound is resampled by ``ratio`` (shifting everything) and
    PSOLA then restores the original f0 and duration. The output is trimmed/zero-padded
    to exactly ``len(audio)``.

    Caveats: unvoiced stretches are shifted too (they are resampled), but their timing is
    kept; with ``ratio > 1`` content above ``8000 / ratio`` Hz is lost. See the module
    docstring for the analysis-range and clip-length caveats.
    """
    fn = "formant_shift"
    check_rate(sample_rate, fn)
    x = check_audio(audio, fn)
    ratio = check_positive(ratio, fn, "ratio", "e.g. ratio=1.15 to raise formants by 15%")
    floor, ceiling = _analysis_range(x, pitch_floor, pitch_ceiling, fn)
    if ratio == 1.0:
        return as_audio(x)
    parselmouth, call = _praat()

    def body():
        snd = parselmouth.Sound(x.astype(np.float64), sampling_frequency=float(SAMPLE_RATE))
        out = call(snd, "Change gender", floor, ceiling, ratio, 0.0, 1.0, 1.0)
        if out.sampling_frequency != SAMPLE_RATE:  # pragma: no cover - Praat keeps the rate
            out = call(out, "Resample", float(SAMPLE_RATE), 50)
        return out.values[0]

    unvoiced = "the audio was only resampled (formants shifted, no f0 to restore)"
    return as_audio(_fix_length(_run(fn, body, unvoiced), x.size))
