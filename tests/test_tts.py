"""espeak-ng text to speech: deterministic, word-timed, and Whisper hears the intended words."""

from __future__ import annotations

import numpy as np
import pytest
import whisper

from hooked_audio.pairs import speak

TEXT = "And so my fellow Americans, ask not what your country can do for you."


def test_repeatable_to_a_few_milliseconds_and_word_timed():
    a, b = speak(TEXT), speak(TEXT)
    assert a.audio.dtype == np.float32
    assert abs(len(a.audio) - len(b.audio)) < 0.02 * 16000  # espeak-ng is not bit-reproducible
    words = [w for w, _, _ in a.words]
    assert words[:5] == ["And", "so", "my", "fellow", "Americans"]
    starts = [s for _, s, _ in a.words]
    assert starts == sorted(starts) and all(s < e for _, s, e in a.words)
    assert a.words[-1][2] <= len(a.audio) / 16000
    assert 2.5 < len(a.audio) / 16000 < 6.0


def test_tiny_en_hears_the_intended_word(tiny_en):
    texts = {}
    for word in ("Americans", "Germans"):
        speech = speak(TEXT.replace("Americans", word))
        result = whisper.transcribe(tiny_en, speech.audio, fp16=False, language="en",
                                    temperature=0.0, verbose=None)
        texts[word] = result["text"].lower()
    assert "fellow americans" in texts["Americans"] and "fellow germans" in texts["Germans"]
    assert "your country" in texts["Americans"] and "your country" in texts["Germans"]


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        speak("   ")
    with pytest.raises(ValueError, match="no voice"):
        speak("hello", voice="klingon-xx")
    with pytest.raises(ValueError, match="rate=20"):
        speak("hello", rate=20)
