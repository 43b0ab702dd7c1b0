"""The bundled minimal pairs (fixed audio, so the checks are exact) mean what they say on
tiny.en."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
import whisper

from hooked_audio.metrics import first_difference
from hooked_audio.models.whisper import answer_from_transcripts
from hooked_audio.pairs import bundled_pairs

PAIRS = bundled_pairs()
CONTENT = [p for p in PAIRS if p.kind == "content"]
ALIKE = [p for p in PAIRS if p.kind in ("speaker", "prosody")]


def _decode(model, audio):
    mel = model.to_mel(audio, sample_rate=16000)
    result = whisper.decode(
        model, mel[0], whisper.DecodingOptions(language="en", fp16=False, without_timestamps=True)
    )
    return list(result.tokens), result.text


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", "", text).lower().split()


def test_bundled_pairs_are_there_small_and_aligned():
    kinds = [p.kind for p in PAIRS]
    assert all(kinds.count(kind) >= 2 for kind in ("content", "speaker", "prosody"))
    directory = Path(str(files("hooked_audio") / "data" / "pairs"))
    assert sum(f.stat().st_size for f in directory.iterdir()) < 2 * 2**20
    for pair in PAIRS:
        assert len(pair.clean_audio) == len(pair.corrupt_audio) > 16000
        assert pair.alignment_score is not None and 0 < pair.alignment_score < 0.5
        assert pair.meta["alignment"] == "words" and pair.meta["timing_offset_ms"] < 10.0
        words = pair.meta["clean_words"]  # espeak-ng's words ("in the" is one), in order
        assert _words(" ".join(w for w, _, _ in words)) == _words(pair.clean_text)
        assert all(s < e for _, s, e in words)
    for pair in CONTENT:
        ((start, end),) = pair.spans_s
        word = [(s, e) for w, s, e in pair.meta["clean_words"] if w == pair.differing_words[0]]
        assert word == [(pytest.approx(start, abs=1e-3), pytest.approx(end, abs=1e-3))]


@pytest.mark.parametrize("pair", CONTENT, ids=lambda p: p.id)
def test_content_pair_differs_exactly_at_the_word(tiny_en, pair):
    """Both transcripts are the pair's texts; the first differing token is the answer word,
    and every token after the word is the same."""
    clean_tokens, clean_text = _decode(tiny_en, pair.clean_audio)
    corrupt_tokens, corrupt_text = _decode(tiny_en, pair.corrupt_audio)
    assert _words(clean_text) == _words(pair.clean_text)
    assert _words(corrupt_text) == _words(pair.corrupt_text)
    index = first_difference(clean_tokens, corrupt_tokens)
    correct = tiny_en.tokenizer.encode(pair.answer["correct"])
    incorrect = tiny_en.tokenizer.encode(pair.answer["incorrect"])
    assert clean_tokens[index : index + len(correct)] == correct
    assert corrupt_tokens[index : index + len(incorrect)] == incorrect
    assert clean_tokens[index + len(correct) :] == corrupt_tokens[index + len(incorrect) :]


@pytest.mark.parametrize("pair", ALIKE, ids=lambda p: p.id)
def test_speaker_and_prosody_pairs_transcribe_alike(tiny_en, pair):
    clean_tokens, clean_text = _decode(tiny_en, pair.clean_audio)
    corrupt_tokens, _ = _decode(tiny_en, pair.corrupt_audio)
    assert _words(clean_text) == _words(pair.clean_text)
    assert clean_tokens == corrupt_tokens


@pytest.mark.parametrize("pair", CONTENT, ids=lambda p: p.id)
def test_content_pair_localises_in_time(tiny_en, pair):
    """Denoising the clean frames of the differing word at layer 0 restores the answer;
    the frames before it do not."""
    from hooked_audio.patching import resid_pre_sweep, time_cells

    clean = tiny_en.to_frames(pair.clean_audio, sample_rate=16000)
    corrupt = tiny_en.to_frames(pair.corrupt_audio, sample_rate=16000)
    answer = answer_from_transcripts(tiny_en, clean, corrupt)
    assert tiny_en.to_string([answer.correct]) == pair.answer["correct"]
    word = time_cells.spans(1500, pair.spans_s)
    before = time_cells.spans(1500, [(0.0, pair.spans_s[0][0])])
    result = resid_pre_sweep(
        tiny_en.encoder_stream(answer.tokens),
        clean,
        corrupt,
        answer.metric(),
        layers=[0],
        cells=word.cells + before.cells,
        progress=False,
    )
    recovery = result.normalised()[0]
    assert recovery[0] > 0.7 and abs(recovery[1]) < 0.3
