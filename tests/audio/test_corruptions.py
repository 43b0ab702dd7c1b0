"""Behavioural tests for hooked_audio.corruptions (fast, CPU only, no model weights)."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest

from hooked_audio import load_audio
from hooked_audio.audio import AudioInputError
from hooked_audio.corruptions import (
    formant_shift,
    gain,
    mask_span,
    pink_noise,
    pitch_shift,
    replace_span,
    reverse_span,
    silence,
    speed,
    white_noise,
)

SR = 16000


# ---------------------------------------------------------------- signals and measures


def _speechy(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A noisy, amplitude-modulated harmonic signal: non-stationary like speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * 150 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(t.size)
    return (0.2 * x).astype(np.float32)


def _bursts(f0: float, amps: list[float], seconds: float = 1.0) -> np.ndarray:
    """Two harmonic tone bursts (0.05-0.45 s and 0.55-0.95 s) with 20 ms raised-cosine
    ramps, so the energy envelope has structure to align."""
    t = np.arange(int(seconds * SR)) / SR
    x = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t) for k, a in enumerate(amps))
    env = np.zeros_like(t)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(int(0.02 * SR)) / (0.02 * SR))
    for a, b in [(0.05, 0.45), (0.55, 0.95)]:
        i, j = int(a * SR), int(b * SR)
        env[i:j] = 1.0
        env[i : i + ramp.size] = ramp
        env[j - ramp.size : j] = ramp[::-1]
    return (0.3 * x / np.max(np.abs(x)) * env).astype(np.float32)


def _vowel(f0: float = 140.0, formants=(700.0, 1200.0, 2600.0), seconds: float = 1.0):
    """Additive synthetic vowel: harmonics of f0 weighted by a formant envelope."""
    t = np.arange(int(seconds * SR)) / SR
    x = np.zeros_like(t)
    for k in range(1, int(7000 / f0)):
        f = k * f0
        a = sum(np.exp(-0.5 * ((f - fm) / 90.0) ** 2) for fm in formants) + 0.02
        x += a * np.sin(2 * np.pi * f * t)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def _snr_db(clean: np.ndarray, noisy: np.ndarray, sl=slice(None)) -> float:
    c = clean[sl].astype(np.float64)
    n = noisy[sl].astype(np.float64) - c
    return 10 * np.log10(np.mean(c**2) / np.mean(n**2))


def _f0_autocorr(x: np.ndarray, fmin: float = 80.0, fmax: float = 1000.0) -> float:
    """f0 from the biased autocorrelation's highest peak, with parabolic interpolation."""
    x = x.astype(np.float64) - np.mean(x)
    r = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * x.size)) ** 2)[: x.size]
    lo, hi = int(SR / fmax), int(SR / fmin)
    k = lo + int(np.argmax(r[lo:hi]))
    a, b, c = r[k - 1], r[k], r[k + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return SR / (k + shift)


def _rms_envelope(x: np.ndarray, frame: int = 320) -> np.ndarray:
    n = x.size // frame
    return np.sqrt(np.mean(x[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))


def _centroid(x: np.ndarray) -> float:
    p = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    return float(np.sum(f * p) / np.sum(p))


def _jfk() -> np.ndarray:
    return load_audio(str(importlib.resources.files("hooked_audio") / "data" / "jfk.flac"))


# ---------------------------------------------------------------- basic


def test_silence_zeroes_exactly_the_span():
    x = _speechy()
    y = silence(x, span=(0.25, 0.5))
    assert np.all(y[4000:8000] == 0)
    np.testing.assert_array_equal(y[:4000], x[:4000])
    np.testing.assert_array_equal(y[8000:], x[8000:])
    assert np.all(silence(x) == 0) and silence(x).size == x.size
    assert np.any(x[4000:8000] != 0)  # the input is not modified


def test_gain_plus_6db_doubles_amplitude():
    x = _speechy()
    ratio = np.max(np.abs(gain(x, 6.0))) / np.max(np.abs(x))
    assert abs(ratio - 2.0) < 0.02
    np.testing.assert_allclose(gain(x, -20.0), x * 0.1, rtol=1e-5, atol=1e-8)
    assert gain(x, 3.0).dtype == np.float32


# ---------------------------------------------------------------- noise


@pytest.mark.parametrize("fn", [white_noise, pink_noise])
def test_noise_is_deterministic_under_seed(fn):
    x = _speechy()
    a, b, c = fn(x, 10.0, seed=1), fn(x, 10.0, seed=1), fn(x, 10.0, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.dtype == np.float32 and a.size == x.size


@pytest.mark.parametrize("fn", [white_noise, pink_noise])
@pytest.mark.parametrize("snr", [20.0, 5.0, -5.0])
def test_noise_snr_matches_request_whole_clip_and_span(fn, snr):
    x = _speechy()
    assert abs(_snr_db(x, fn(x, snr, seed=3)) - snr) < 0.5
    y = fn(x, snr, seed=3, span=(0.3, 0.6))
    assert abs(_snr_db(x, y, slice(4800, 9600)) - snr) < 0.5
    np.testing.assert_array_equal(y[:4800], x[:4800])  # untouched outside the span
    np.testing.assert_array_equal(y[9600:], x[9600:])


def test_pink_noise_slope_is_minus_10_db_per_decade():
    x = 0.1 * np.ones(4 * SR, np.float32)  # DC "signal": the added noise is all non-DC
    noise = pink_noise(x, 0.0, seed=0).astype(np.float64) - x
    seg = 2048
    frames = noise[: noise.size // seg * seg].reshape(-1, seg) * np.hanning(seg)
    power = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0)
    f = np.fft.rfftfreq(seg, 1 / SR)
    band = (f >= 100) & (f <= 4000)
    slope = np.polyfit(np.log10(f[band]), np.log10(power[band]), 1)[0]
    assert -1.3 <= slope <= -0.7, slope
    # white noise, for contrast, is flat
    w = white_noise(x, 0.0, seed=0).astype(np.float64) - x
    wp = np.mean(np.abs(np.fft.rfft(w[: w.size // seg * seg].reshape(-1, seg), axis=1)) ** 2, 0)
    assert abs(np.polyfit(np.log10(f[band]), np.log10(wp[band]), 1)[0]) < 0.2


# ---------------------------------------------------------------- spans


def test_mask_span_fills():
    x = _speechy()
    z = mask_span(x, (0.1, 0.2))
    assert np.all(z[1600:3200] == 0)
    np.testing.assert_array_equal(np.delete(z, np.s_[1600:3200]), np.delete(x, np.s_[1600:3200]))
    n1, n2, n3 = (mask_span(x, (0.1, 0.2), "noise", seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(n1, n2)
    assert not np.allclose(n1[1600:3200], n3[1600:3200])
    rms = lambda a: np.sqrt(np.mean(a.astype(np.float64) ** 2))  # noqa: E731
    assert abs(rms(n1[1600:3200]) / rms(x[1600:3200]) - 1) < 1e-3  # energy kept
    np.testing.assert_array_equal(n1[3200:], x[3200:])
    other = _speechy(seed=5)
    a = mask_span(x, (0.1, 0.2), other[:1600])  # span-length fill
    np.testing.assert_array_equal(a[1600:3200], other[:1600])
    b = mask_span(x, (0.1, 0.2), other)  # full-length fill: time-aligned
    np.testing.assert_array_equal(b[1600:3200], other[1600:3200])
    np.testing.assert_array_equal(b[:1600], x[:1600])


def test_replace_span_copies_other_audio():
    x, other = _speechy(), _speechy(seed=9)
    y = replace_span(x, (0.5, 0.75), other, other_start_s=0.1)
    np.testing.assert_array_equal(y[8000:12000], other[1600:5600])
    np.testing.assert_array_equal(y[:8000], x[:8000])
    np.testing.assert_array_equal(y[12000:], x[12000:])
    y0 = replace_span(x, (0.5, 0.75), other)
    np.testing.assert_array_equal(y0[8000:12000], other[:4000])


def test_reverse_span_twice_is_identity():
    x = _speechy()
    y = reverse_span(x, (0.2, 0.7))
    assert not np.array_equal(y, x)
    np.testing.assert_array_equal(y[3200:11200], x[3200:11200][::-1])
    np.testing.assert_array_equal(reverse_span(y, (0.2, 0.7)), x)


# ---------------------------------------------------------------- speed and pitch


def test_speed_halves_length_and_doubles_frequency():
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    y = speed(x, 2.0)
    assert y.size == SR // 2 and y.dtype == np.float32
    assert abs(_f0_autocorr(y[1000:7000]) / 600 - 1) < 0.01
    slow = speed(x, 0.8)
    assert slow.size == round(SR / 0.8)
    kept = speed(x, 2.0, keep_length=True)
    assert kept.size == SR and np.all(kept[SR // 2 :] == 0)
    assert speed(x, 0.5, keep_length=True).size == SR


def test_pitch_shift_octave_moves_f0_and_keeps_timing():
    x = _bursts(220.0, [1.0, 0.6, 0.4, 0.25])
    assert abs(_f0_autocorr(x[2400:6400]) / 220 - 1) < 0.01  # the estimator works
    y = pitch_shift(x, 12.0)
    assert y.size == x.size and y.dtype == np.float32
    for a, b in [(2400, 6400), (10400, 14400)]:
        assert abs(_f0_autocorr(y[a:b]) / 440 - 1) < 0.03
    r = np.corrcoef(_rms_envelope(x), _rms_envelope(y))[0, 1]
    assert r > 0.9, r
    down = pitch_shift(x, -5.0)
    assert abs(_f0_autocorr(down[2400:6400]) / (220 * 2 ** (-5 / 12)) - 1) < 0.03


def test_formant_shift_keeps_f0_and_moves_centroid():
    x = _vowel()
    mid = slice(4000, 12000)
    c0 = _centroid(x[mid])
    up, down = formant_shift(x, 1.25), formant_shift(x, 0.8)
    for y in (up, down):
        assert y.size == x.size and y.dtype == np.float32
        assert abs(_f0_autocorr(y[mid], fmin=80, fmax=400) / 140 - 1) < 0.03
    assert _centroid(up[mid]) > c0 * 1.05
    assert _centroid(down[mid]) < c0 / 1.05
    b = _bursts(140.0, [1.0, 0.5, 0.8, 0.3, 0.2])
    r = np.corrcoef(_rms_envelope(b), _rms_envelope(formant_shift(b, 1.2)))[0, 1]
    assert r > 0.9, r


def test_duration_kept_by_every_length_preserving_transform():
    x = _speechy(1.37)
    n = x.size
    outs = [
        silence(x, (0.1, 0.2)),
        gain(x, -3),
        white_noise(x, 5, seed=0),
        pink_noise(x, 5, seed=0, span=(0.5, 1.0)),
        mask_span(x, (0.2, 0.3), "noise"),
        replace_span(x, (0.2, 0.3), _speechy()),
        reverse_span(x, (0.0, 1.37)),
        speed(x, 1.3, keep_length=True),
        pitch_shift(x, 3.5),
        formant_shift(x, 1.1),
    ]
    assert all(o.size == n and o.dtype == np.float32 for o in outs)


def test_real_clip_pitch_shift_keeps_length_and_alignment():
    import parselmouth
    from parselmouth.praat import call

    def median_f0(a):
        pitch = parselmouth.Sound(a.astype(np.float64), SR).to_pitch()
        return call(pitch, "Get quantile", 0, 0, 0.5, "Hertz")

    x = _jfk()
    y = pitch_shift(x, 2.0)
    assert y.size == x.size and np.all(np.isfinite(y))
    assert abs(median_f0(y) / median_f0(x) / 2 ** (2 / 12) - 1) < 0.03
    ex, ey = _rms_envelope(x), _rms_envelope(y)
    assert np.corrcoef(ex, ey)[0, 1] > 0.9
    xc = np.correlate(ex - ex.mean(), ey - ey.mean(), "full")
    assert int(np.argmax(xc)) - (ex.size - 1) == 0  # best lag: 0 frames of 20 ms


def test_unvoiced_audio_warns_and_passes_through():
    x = (0.1 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)
    with pytest.warns(UserWarning, match="no voiced"):
        y = pitch_shift(x, 4.0)
    assert y.size == x.size


# ---------------------------------------------------------------- errors

_X = np.zeros(SR, np.float32) + 0.1


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: silence(np.zeros(0, np.float32)), "empty"),
        (lambda: gain(np.array([0.1, np.nan], np.float32), 3), "NaN"),
        (lambda: white_noise(np.zeros((SR, 2), np.float32), 10), "load_audio.*downmix"),
        (lambda: silence(np.zeros(10, np.int16)), "integer PCM"),
        (lambda: silence("a.wav"), "load_audio"),
        (lambda: silence(_X, (0.5, 1.5)), "outside the audio"),
        (lambda: silence(_X, (-0.1, 0.5)), "outside the audio"),
        (lambda: mask_span(_X, (0.5, 0.5)), "end must be after"),
        (lambda: reverse_span(_X, (0.6, 0.2)), "end must be after"),
        (lambda: mask_span(_X, (0.1, float("nan"))), "finite"),
        (lambda: silence(_X, (0.1,)), "pair"),
        (lambda: white_noise(_X, float("nan")), "snr_db must be a finite"),
        (lambda: pink_noise(_X, float("inf")), "snr_db must be a finite"),
        (lambda: white_noise(np.zeros(SR, np.float32), 10), "silence"),
        (lambda: gain(_X, 6, sample_rate=44100), "resample.*load_audio"),
        (lambda: pitch_shift(_X, 2, sample_rate=8000), "16 kHz"),
        (lambda: gain(_X, float("nan")), "db must be a finite"),
        (lambda: mask_span(_X, (0.1, 0.2), "pink"), "fill must be"),
        (lambda: mask_span(_X, (0.1, 0.2), np.zeros(5, np.float32)), "exactly"),
        (lambda: replace_span(_X, (0.1, 0.9), np.zeros(SR // 2, np.float32)), "longer"),
        (lambda: replace_span(_X, (0.1, 0.2), _X, other_start_s=-1), ">= 0"),
        (lambda: speed(_X, 0), "factor must be > 0"),
        (lambda: speed(_X, float("inf")), "factor must be a finite"),
        (lambda: pitch_shift(_X, float("nan")), "semitones"),
        (lambda: pitch_shift(_X[:200], 2), "shorter than"),
        (lambda: formant_shift(_X, -1.0), "ratio must be > 0"),
        (lambda: formant_shift(_X, 1.1, pitch_floor=500, pitch_ceiling=100), "ceiling"),
    ],
)
def test_bad_input_raises_audio_input_error(call, match):
    with pytest.raises(AudioInputError, match=match):
        call()


def test_audio_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        silence(np.zeros((2, 2), np.float32))
