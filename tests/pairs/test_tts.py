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


def test_pause_ends_a_word_and_lead_in_shifts_the_timings():
    plain, led = speak(TEXT), speak(TEXT, lead_s=0.25)
    assert np.all(led.audio[:4000] == 0.0) and len(led.audio) - len(plain.audio) in range(
        3600, 4400
    )
    assert abs(led.words[3][1] - plain.words[3][1] - 0.25) < 0.02
    words = {w: (start, end) for w, start, end in plain.words}
    # "Americans," is followed by the comma's pause: the word ends well before "ask" starts,
    # and the audio between is silent; words run into each other elsewhere.
    assert words["ask"][0] - words["Americans"][1] > 0.1
    gap = plain.audio[int(words["Americans"][1] * 16000) : int(words["ask"][0] * 16000)]
    assert np.abs(gap).max() < 0.01 * np.abs(plain.audio).max()
    assert words["so"][1] == words["my"][0]


def test_tiny_en_hears_the_intended_word(tiny_en):
    texts = {}
    for word in ("Americans", "Germans"):
        speech = speak(TEXT.replace("Americans", word))
        result = whisper.transcribe(
            tiny_en, speech.audio, fp16=False, language="en", temperature=0.0, verbose=None
        )
        texts[word] = result["text"].lower()
    assert "fellow americans" in texts["Americans"] and "fellow germans" in texts["Germans"]
    assert "your country" in texts["Americans"] and "your country" in texts["Germans"]


def test_numbers_and_punctuated_words_are_one_word_each():
    speech = speak("It is 1984, said Dr. Smith.")
    assert [w for w, _, _ in speech.words] == ["It", "is", "1984", "said", "Dr", "Smith"]
    _, start, end = speech.words[2]
    assert end - start > 0.8  # "nineteen eighty-four": several espeak-ng words, one word here
    assert [w for w, _, _ in speak("123").words] == ["123"]
    # espeak-ng gives "on the" one word event: the article joins the word before it
    assert [w for w, _, _ in speak("The cat is on the sofa.").words] == [
        "The",
        "cat",
        "is",
        "on the",
        "sofa",
    ]


@pytest.mark.parametrize(
    "text, voice, message",
    [
        ("!!! ???", "en-us", "no pronounceable word"),
        ("... --", "en-us", "no pronounceable word"),
        ("hello \U0001f600 world", "en-us", "cannot speak as words.*GRINNING FACE"),
        ("the \u00a9 sign", "en-us", "cannot speak as words.*COPYRIGHT"),
        ("hello \u4f60\u597d world", "en-us", "English voice 'en-us' cannot read"),
        ("\u03b3\u03b5\u03b9\u03b1", "en-gb+f3", "cannot read"),
        # espeak-ng reads "____ world" as one word event: "world" gets none (after synthesis)
        ("hello ____ world", "en-us", "do not match the words.*'world'"),
    ],
)
def test_text_the_voice_cannot_speak(text, voice, message):
    with pytest.raises(ValueError, match=message):
        speak(text, voice=voice)


def test_other_scripts_with_their_voice():
    speech = speak("\u03b3\u03b5\u03b9\u03b1 \u03c3\u03bf\u03c5", voice="el")
    assert [w for w, _, _ in speech.words] == ["\u03b3\u03b5\u03b9\u03b1", "\u03c3\u03bf\u03c5"]


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        speak("   ")
    with pytest.raises(ValueError, match="no voice"):
        speak("hello", voice="klingon-xx")
    with pytest.raises(ValueError, match="rate=20"):
        speak("hello", rate=20)
