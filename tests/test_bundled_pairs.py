"""The bundled minimal pairs (fixed audio, so the checks are exact) mean what they say on tiny.en."""

from __future__ import annotations

import re

import whisper

from hooked_audio.metrics import first_difference
from hooked_audio.pairs import bundled_pairs


def _decode(model, audio):
    mel = model.to_mel(audio, sample_rate=16000)
    result = whisper.decode(model, mel[0], whisper.DecodingOptions(language="en", fp16=False,
                                                                   without_timestamps=True))
    return result.tokens, result.text


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", "", text).lower().split()


def test_bundled_pairs_are_there_and_aligned():
    pairs = bundled_pairs()
    assert sorted(p.kind for p in pairs) == ["content", "prosody", "speaker"]
    for pair in pairs:
        assert len(pair.clean_audio) == len(pair.corrupt_audio) > 16000
        assert pair.alignment_score is not None and 0 < pair.alignment_score < 0.5


def test_bundled_pairs_mean_what_they_say(tiny_en):
    pairs = {p.kind: p for p in bundled_pairs()}
    content = pairs["content"]
    clean_tokens, clean_text = _decode(tiny_en, content.clean_audio)
    corrupt_tokens, corrupt_text = _decode(tiny_en, content.corrupt_audio)
    index = first_difference(clean_tokens, corrupt_tokens)
    assert tiny_en.to_string(clean_tokens[index:index + 1]) == content.answer["correct"]
    assert tiny_en.to_string(corrupt_tokens[index:index + 1]).startswith(" Germ")
    assert clean_text.replace("Americans", "Germans") == corrupt_text
    for kind in ("speaker", "prosody"):  # the same words (punctuation aside)
        assert _words(_decode(tiny_en, pairs[kind].clean_audio)[1]) == \
            _words(_decode(tiny_en, pairs[kind].corrupt_audio)[1])


def test_bundled_content_pair_localises_in_time(tiny_en):
    """Denoising the clean frames of the differing word at layer 0 restores the answer."""
    from hooked_audio.metrics import LogitDiff
    from hooked_audio.patching import resid_pre_sweep, time_cells

    pair = {p.kind: p for p in bundled_pairs()}["content"]
    clean = tiny_en.to_frames(pair.clean_audio, sample_rate=16000)
    corrupt = tiny_en.to_frames(pair.corrupt_audio, sample_rate=16000)
    tokens = tiny_en.to_tokens(" And so my fellow")
    # " Germans" may span several tokens: its first token is what the corrupt run predicts.
    metric = LogitDiff(-1, tiny_en.to_single_token(pair.answer["correct"]),
                       tiny_en.tokenizer.encode(pair.answer["incorrect"])[0])
    word = time_cells.spans(1500, pair.spans_s)
    before = time_cells.spans(1500, [(0.0, pair.spans_s[0][0])])
    result = resid_pre_sweep(tiny_en.encoder_stream(tokens), clean, corrupt, metric, layers=[0],
                             cells=word.cells + before.cells, progress=False)
    recovery = result.normalised()[0]
    assert recovery[0] > 0.7 and abs(recovery[1]) < 0.3
