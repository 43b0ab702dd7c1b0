"""Minimal pairs from text mean what they say: tiny.en hears the content difference exactly at
the intended word, and hears speaker and prosody pairs alike."""

from __future__ import annotations

import re

import numpy as np
import pytest
import whisper

from hooked_audio.metrics import first_difference
from hooked_audio.pairs import PairSet, content_pair, prosody_pair, speaker_pair

JFK = "And so my fellow Americans, ask not what your country can do for you."


def _tokens(model, audio):
    """Whisper's text tokens (no timestamps) and text for a clip."""
    result = whisper.transcribe(
        model,
        audio,
        fp16=False,
        language="en",
        temperature=0.0,
        verbose=None,
        condition_on_previous_text=False,
        without_timestamps=True,
    )
    return [t for seg in result["segments"] for t in seg["tokens"]], result["text"]


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", "", text).lower().split()


def _loud_frames(audio: np.ndarray) -> np.ndarray:
    """10 ms frames louder than 40 dB below the loudest."""
    n = audio.size // 160
    rms = np.sqrt(np.mean(audio[: n * 160].reshape(n, 160) ** 2, axis=1))
    return rms > rms.max() * 0.01


def test_content_pair_differs_exactly_at_the_word(tiny_en):
    pair = content_pair("jfk-germans", JFK, "Americans", "Germans")
    assert len(pair.corrupt_audio) == len(pair.clean_audio)
    assert pair.answer == {"correct": " Americans", "incorrect": " Germans"}
    ((start, end),) = pair.spans_s
    assert 0.5 < start < end < 2.5
    clean_tokens, clean_text = _tokens(tiny_en, pair.clean_audio)
    corrupt_tokens, corrupt_text = _tokens(tiny_en, pair.corrupt_audio)
    index = first_difference(clean_tokens, corrupt_tokens)
    assert index is not None
    assert tiny_en.to_string(clean_tokens[index : index + 1]).strip().startswith("Americ")
    assert tiny_en.to_string(corrupt_tokens[index : index + 1]).strip().startswith("Germ")
    assert clean_text.replace("Americans", "Germans") == corrupt_text


@pytest.mark.parametrize(
    "make",
    [
        lambda: speaker_pair(
            "speaker", "Ask what you can do for your country.", other_voice="en-us+m3"
        ),
        lambda: prosody_pair("prosody", JFK, pitch=50, other_pitch=80),
    ],
)
def test_speaker_and_prosody_pairs_transcribe_alike(tiny_en, make):
    """Exact: with word alignment (and 0.2 s of lead-in silence) tiny.en hears the same words
    on both sides. Checked over 15 fresh syntheses of each pair (espeak-ng varies by a few
    ms per call): 0 slips. The DTW warp without lead-in slipped in 8 of 15 speaker pairs."""
    pair = make()
    assert len(pair.corrupt_audio) == len(pair.clean_audio)
    assert 0.0 < pair.alignment_score < 0.5
    assert pair.meta["alignment"] == "words" and pair.meta["timing_offset_ms"] < 10.0
    clean_words = _words(_tokens(tiny_en, pair.clean_audio)[1])
    corrupt_words = _words(_tokens(tiny_en, pair.corrupt_audio)[1])
    assert clean_words == corrupt_words


def test_content_pair_word_fills_the_clean_span_and_pause():
    """The corrupt word is stretched onto the clean word: both sides are silent in the
    pause after it (the comma) and sound at both ends of the word."""
    pair = content_pair("jfk-germans", JFK, "Americans", "Germans")
    ((start, end),) = pair.spans_s
    loud = [_loud_frames(audio) for audio in (pair.clean_audio, pair.corrupt_audio)]
    pause = slice(int(end * 100) + 2, int(end * 100) + 10)
    word_edges = [int(start * 100) + 3, int(end * 100) - 3]
    for frames in loud:
        assert not frames[pause].any()
        assert frames[word_edges].all()


def test_dtw_alignment_is_still_available():
    pair = speaker_pair("speaker", "Ask what you can do for your country.", alignment="dtw")
    assert len(pair.corrupt_audio) == len(pair.clean_audio)
    assert pair.meta["alignment"] == "dtw" and 0.0 < pair.alignment_score < 0.5
    with pytest.raises(ValueError, match="alignment must be one of"):
        speaker_pair("speaker", "Ask.", alignment="psola")


def test_pairs_save_and_load(tmp_path):
    pairs = PairSet([content_pair("c", JFK, "fellow", "yellow")])
    pairs.save(tmp_path)
    loaded = PairSet.load(tmp_path)
    assert loaded[0].corrupt_text == JFK.replace("fellow", "yellow")
    assert loaded[0].answer == pairs[0].answer


def test_builder_errors():
    with pytest.raises(ValueError, match="cannot speak as words"):
        content_pair("x", JFK, "Americans", "\u2603")
    with pytest.raises(ValueError, match="empty"):
        content_pair("x", JFK, "Americans", " ")
    with pytest.raises(ValueError, match="exactly once"):
        content_pair("x", "you and you", "you", "me")
    with pytest.raises(ValueError, match="two different"):
        speaker_pair("x", JFK, voice="en-us", other_voice="en-us")
    with pytest.raises(ValueError, match="two different"):
        prosody_pair("x", JFK, pitch=50, other_pitch=50)
