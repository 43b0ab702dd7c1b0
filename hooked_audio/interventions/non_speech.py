"""Non-speech clips for hallucination studies: noises, tones, hum, clicks and silence,
synthesised with numpy (seeded, so a study's clip set is the same on every machine).

Calm-Whisper (arXiv 2505.12969) measured hallucination as any text Whisper writes for audio
without speech; these clips are that kind of input. Each is `seconds` long at 16 kHz, at a
stated level (RMS in dBFS) or lower where that level would push a peak past 0.9 (the click
train), except silence, which is digital zero.
"""

from __future__ import annotations

import numpy as np

from hooked_audio.audio import Audio
from hooked_audio.constants import SAMPLE_RATE

#: what `non_speech_clips` synthesises, in order
NON_SPEECH_KINDS = (
    "silence",
    "white_noise",
    "pink_noise",
    "brown_noise",
    "tone_440hz",
    "tone_1khz",
    "hum_50hz",
    "chirp",
    "clicks",
    "noise_bursts",
)


def non_speech_clips(
    kinds: tuple[str, ...] | list[str] = NON_SPEECH_KINDS,
    seconds: float = 10.0,
    level_dbfs: float = -30.0,
    seed: int = 0,
) -> dict[str, Audio]:
    """`{name: Audio}`, one clip per kind (names are the kinds)."""
    unknown = [kind for kind in kinds if kind not in NON_SPEECH_KINDS]
    if unknown:
        raise ValueError(f"Unknown non-speech kinds {unknown}; choose from {NON_SPEECH_KINDS}.")
    if not kinds:
        raise ValueError("Ask for at least one non-speech kind.")
    if not 0.1 <= seconds <= 30:
        raise ValueError(f"seconds must be between 0.1 and 30 (one Whisper window), got {seconds}.")
    if not -80 <= level_dbfs <= -3:
        raise ValueError(f"level_dbfs must be between -80 and -3, got {level_dbfs}.")
    n = int(round(seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    clips = {}
    for index, kind in enumerate(kinds):
        rng = np.random.default_rng([seed, index])
        wave = _synthesise(kind, t, rng)
        if kind != "silence":
            gain = 10 ** (level_dbfs / 20) / np.sqrt(np.mean(wave**2))
            wave = wave * min(gain, 0.9 / np.abs(wave).max())
        clips[kind] = Audio(wave.astype(np.float32), SAMPLE_RATE)
    return clips


def _coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise whose power falls as `1 / f**exponent` (0 white, 1 pink, 2 brown), shaped in the
    frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    freqs[0] = freqs[1]
    return np.fft.irfft(spectrum / freqs ** (exponent / 2), n)


def _synthesise(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(t)
    if kind == "silence":
        return np.zeros(n)
    if kind.endswith("_noise"):
        exponent = {"white_noise": 0.0, "pink_noise": 1.0, "brown_noise": 2.0}[kind]
        return _coloured_noise(n, rng, exponent)
    if kind == "tone_440hz":
        return np.sin(2 * np.pi * 440 * t)
    if kind == "tone_1khz":
        return np.sin(2 * np.pi * 1000 * t)
    if kind == "hum_50hz":
        return sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6))
    if kind == "chirp":  # 100 Hz to 4 kHz, exponential sweep
        duration = t[-1] if len(t) > 1 else 1.0
        rate = np.log(4000 / 100) / duration
        return np.sin(2 * np.pi * 100 * (np.exp(rate * t) - 1) / rate)
    if kind == "clicks":  # a click every 0.25 s
        wave = np.zeros(n)
        wave[:: SAMPLE_RATE // 4] = 1.0
        return wave
    # noise_bursts: 100 ms of white noise every 0.5 s
    wave = rng.standard_normal(n)
    return wave * ((t % 0.5) < 0.1)
