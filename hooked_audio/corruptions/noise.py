"""Additive noise at a requested signal-to-noise ratio: white and pink (1/f).

SNR convention: ``snr_db = 10 * log10(P_signal / P_noise)``, where ``P`` is the mean
squared sample value over the span (or the whole clip when ``span=None``). The noise
actually drawn is rescaled so that the *realised* SNR over the span equals the request
(not just its expectation). Noise is added only inside the span; outside it the audio is
unchanged bit for bit. Higher ``snr_db`` means quieter noise; ``snr_db`` may be negative
(noise louder than the signal).

Caveat for causal tracing: corrupting the input with white noise (as in published causal
tracing / activation patching work on Whisper) gives results that depend strongly on the
noise level: too little noise and the corrupt run still gets the answer (nothing to
restore), too much and everything downstream is destroyed. Report the SNR you used and try
several (e.g. 20, 10, 0, -10 dB) before reading a patching map.
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


def _add_noise(
    audio: np.ndarray,
    snr_db: float,
    seed: int,
    span: Sequence[float] | None,
    sample_rate: int,
    fn: str,
    colour: str,
) -> Audio:
    check_rate(sample_rate, fn)
    out = check_audio(audio, fn)
    snr_db = check_finite(
        snr_db, fn, "snr_db", "pass the signal-to-noise ratio in dB, e.g. snr_db=10.0"
    )
    sl = span_to_slice(span, out.size, fn)
    segment = out[sl].astype(np.float64)
    p_signal = float(np.mean(segment**2))
    if p_signal == 0.0:
        where = "the span" if span is not None else "the clip"
        raise AudioInputError(
            f"{fn}: {where} is digital silence, so an SNR is undefined; pick a span that "
            "contains signal, or use mask_span(audio, span, fill='noise') to fill silence."
        )
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(segment.size)
    if colour == "pink":
        noise = pink_shape(noise)
    p_noise = float(np.mean(noise**2))
    if p_noise == 0.0:  # a 1-sample pink segment has no non-DC bins
        noise = rng.standard_normal(segment.size)
        p_noise = float(np.mean(noise**2))
    noise *= np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    out[sl] = (segment + noise).astype(np.float32)
    return as_audio(out)


def pink_shape(white: np.ndarray) -> np.ndarray:
    """Shape white noise to a 1/f power spectrum (-10 dB/decade, -3 dB/octave).

    Multiplies the rFFT by ``1/sqrt(f)`` (so power goes as ``1/f``), zeroes the DC bin and
    transforms back with the same length. The overall level is arbitrary; callers rescale.
    """
    n = white.size
    spectrum = np.fft.rfft(white)
    k = np.arange(spectrum.size, dtype=np.float64)
    scale = np.zeros_like(k)
    scale[1:] = 1.0 / np.sqrt(k[1:])
    return np.fft.irfft(spectrum * scale, n=n)


def white_noise(
    audio: np.ndarray,
    snr_db: float,
    seed: int = 0,
    span: Sequence[float] | None = None,
    *,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Add Gaussian white noise at ``snr_db`` over ``span`` (or the whole clip).

    Args:
        audio: mono float32 waveform at 16 kHz.
        snr_db: requested SNR in dB, ``10*log10(P_signal/P_noise)`` measured over the span;
            the realised SNR equals it to float precision. Lower = noisier.
        seed: seed for ``numpy.random.default_rng``; same seed, same noise.
        span: ``(start_s, end_s)`` in seconds; noise is added (and the SNR measured) only
            there. ``None`` = whole clip.
        sample_rate: must be 16000.

    Raises ``AudioInputError`` if the span is digital silence (SNR undefined).

    Caveat: white-noise causal tracing (as in published Whisper interpretability work) is
    sensitive to the noise level. Report the SNR and try several before trusting a
    patching result. The output is not clipped and may exceed [-1, 1] at low SNR.
    """
    return _add_noise(audio, snr_db, seed, span, sample_rate, "white_noise", "white")


def pink_noise(
    audio: np.ndarray,
    snr_db: float,
    seed: int = 0,
    span: Sequence[float] | None = None,
    *,
    sample_rate: int = SAMPLE_RATE,
) -> Audio:
    """Add pink (1/f power, -10 dB/decade) Gaussian noise at ``snr_db`` over ``span``.

    Pink noise is white noise shaped by ``1/sqrt(f)`` in the FFT domain (see
    :func:`pink_shape`), with the DC bin removed. Its energy is concentrated at low
    frequencies, like speech's, so at the same SNR it masks speech more evenly across
    the mel bands than white noise (which puts most of its power above 4 kHz).

    Arguments, SNR convention and caveats as for :func:`white_noise`: noise-based causal
    tracing is sensitive to the noise level, so report the SNR and try several. The
    noise is generated for the span alone, so its lowest frequency is about
    ``1 / span duration``.
    """
    return _add_noise(audio, snr_db, seed, span, sample_rate, "pink_noise", "pink")
