"""Word alignment puts every corrupt word (and pause) exactly on the clean word's samples,
stretching with PSOLA so pitch is kept."""

from __future__ import annotations

import numpy as np
import pytest

from hooked_audio.pairs.tts import Speech
from hooked_audio.pairs.word_alignment import merge_words, pieces, stretch_pieces, word_align

RATE = 16000


def _vowel(seconds: float, f0: float) -> np.ndarray:
    t = np.arange(int(round(seconds * RATE))) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return (0.3 * x * np.hanning(t.size) ** 0.2).astype(np.float32)


def _utterance(durations, pauses, f0, lead=0.1, tail=0.05) -> Speech:
    """Harmonic 'words' of the given durations, each followed by a pause (seconds)."""
    parts, words, t = [np.zeros(int(lead * RATE), np.float32)], [], lead
    for i, (d, p) in enumerate(zip(durations, pauses)):
        parts += [_vowel(d, f0), np.zeros(int(round(p * RATE)), np.float32)]
        words.append((f"w{i}", t, t + d))
        t += d + p
    parts.append(np.zeros(int(tail * RATE), np.float32))
    return Speech(np.concatenate(parts), words)


def _loud(audio: np.ndarray) -> np.ndarray:
    n = audio.size // 160
    return np.sqrt(np.mean(audio[: n * 160].reshape(n, 160) ** 2, axis=1)) > 0.05


def _peak_hz(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * RATE / audio.size)


def test_words_and_pauses_land_on_the_clean_samples_with_pitch_kept():
    clean = _utterance([0.30, 0.20, 0.40], [0.10, 0.08, 0.20], f0=150.0)
    corrupt = _utterance([0.25, 0.30, 0.20], [0.15, 0.06, 0.10], f0=200.0, lead=0.05)
    out = word_align(clean, corrupt)
    assert out.dtype == np.float32 and out.size == clean.audio.size
    # Every 10 ms frame is sound or silence exactly where the clean one is, except at most
    # one frame at each of the 6 word edges (the 5 ms crossfades and PSOLA's pulse grid).
    mismatched = int(np.sum(_loud(out) != _loud(clean.audio)))
    assert mismatched <= 6, mismatched
    # PSOLA keeps the corrupt pitch (resampling would move it with the 2x stretch).
    _, start, end = clean.words[2]
    assert _peak_hz(out[int(start * RATE) + 800 : int(end * RATE) - 800]) == pytest.approx(
        200, abs=5
    )


def test_identical_speech_comes_back_unchanged():
    clean = _utterance([0.30, 0.20], [0.10, 0.05], f0=150.0)
    np.testing.assert_array_equal(word_align(clean, clean), clean.audio)


def test_pieces_cover_every_sample_in_order():
    speech = _utterance([0.30, 0.20], [0.10, 0.05], f0=150.0)
    ps = pieces(speech)
    assert [p.label for p in ps] == ["<lead>", "w0", "<pause>", "w1", "<tail>"]
    assert ps[0].start == 0 and ps[-1].end == speech.audio.size
    assert all(a.end == b.start for a, b in zip(ps, ps[1:]))


def test_a_pause_on_one_side_only_stays_inside_its_word():
    clean = _utterance([0.30, 0.20], [0.0, 0.05], f0=150.0)
    corrupt = _utterance([0.30, 0.20], [0.12, 0.05], f0=150.0)
    out = word_align(clean, corrupt)
    assert out.size == clean.audio.size
    # the second word still starts where the clean one does
    _, start, _ = clean.words[1]
    frame = int(start * 100)
    assert _loud(out)[frame + 1] and _loud(out)[frame + 5]


def test_merge_words_and_errors():
    speech = _utterance([0.30, 0.20, 0.1], [0.10, 0.05, 0.0], f0=150.0)
    merged = merge_words(speech, 1, 2)
    assert [w for w, _, _ in merged.words] == ["w0", "w1 w2"]
    assert merged.words[1][1:] == (speech.words[1][1], speech.words[2][2])
    with pytest.raises(ValueError, match="same words"):
        word_align(speech, merged)
    long = _utterance([1.0], [0.0], f0=150.0)
    short = _utterance([0.2], [0.0], f0=150.0)
    with pytest.raises(ValueError, match="beyond"):
        word_align(long, short)
    with pytest.raises(ValueError, match="increasing"):
        stretch_pieces(np.zeros(100, np.float32), [0, 50, 50, 100], [0, 10, 20, 30])
