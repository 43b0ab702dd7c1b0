"""Real weights: the packaged tiny.en (and base) against openai-whisper with the same weights."""

from __future__ import annotations

import pytest
import torch
import whisper

from tests.helpers.whisper_models import JFK_TEXT, reference_residuals

JFK_TRANSCRIPT = (
    " And so my fellow Americans, ask not what your country can do for you,"
    " ask what you can do for your country."
)


def _transcribe(model, audio, **kwargs):
    return whisper.transcribe(model, audio, fp16=False, language="en", verbose=None, **kwargs)


def test_tiny_en_logits_and_residuals_match_openai_whisper(tiny_en, tiny_en_reference, jfk_mel):
    tokens = tiny_en.to_tokens(JFK_TRANSCRIPT)
    captured = reference_residuals(tiny_en_reference, jfk_mel, tokens)
    expected = captured.pop("logits")
    with torch.no_grad():
        got = tiny_en(jfk_mel, tokens)
        _, cache = tiny_en.run_with_cache(jfk_mel, tokens, names_filter=lambda n: n in captured)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    for name, value in captured.items():
        torch.testing.assert_close(cache[name], value, atol=1e-3, rtol=1e-4)
    # The model reads the clip: greedy predictions reproduce the transcript.
    assert (got[0, :-1].argmax(-1) == tokens[0, 1:]).float().mean() > 0.9


def test_to_mel_equals_whisper_front_end(jfk_mel, jfk_audio):
    """openai-whisper's front end bit for bit, and HF's `WhisperFeatureExtractor` (its own
    implementation) within 1e-6."""
    from transformers import WhisperFeatureExtractor

    expected = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(jfk_audio)))
    torch.testing.assert_close(jfk_mel[0], expected, atol=0, rtol=0)
    hf = WhisperFeatureExtractor()(jfk_audio, sampling_rate=16000, return_tensors="pt")
    torch.testing.assert_close(jfk_mel[0], hf.input_features[0], atol=1e-6, rtol=0)


def test_transcribe_with_word_timestamps_matches_openai_whisper(
    tiny_en, tiny_en_reference, jfk_audio
):
    ours = _transcribe(tiny_en, jfk_audio, word_timestamps=True)
    theirs = _transcribe(tiny_en_reference, jfk_audio, word_timestamps=True)
    assert JFK_TEXT in ours["text"].lower().replace(",", "")
    assert ours["text"] == theirs["text"]
    our_words = [w for s in ours["segments"] for w in s["words"]]
    their_words = [w for s in theirs["segments"] for w in s["words"]]
    assert [w["word"] for w in our_words] == [w["word"] for w in their_words]
    for a, b in zip(our_words, their_words):
        assert a["start"] == pytest.approx(b["start"], abs=0.021)  # one 20 ms frame
        assert a["end"] == pytest.approx(b["end"], abs=0.021)


def test_beam_search_and_timestamps_decode_like_openai_whisper(tiny_en, tiny_en_reference, jfk_mel):
    for options in (
        whisper.DecodingOptions(language="en", beam_size=5, fp16=False),
        whisper.DecodingOptions(language="en", fp16=False, without_timestamps=False),
    ):
        ours = whisper.decode(tiny_en, jfk_mel[0], options)
        theirs = whisper.decode(tiny_en_reference, jfk_mel[0], options)
        assert ours.text == theirs.text
        assert ours.tokens == theirs.tokens
        assert ours.avg_logprob == pytest.approx(theirs.avg_logprob, abs=1e-4)


def test_hooks_act_during_transcription(tiny_en, jfk_audio):
    plain = _transcribe(tiny_en, jfk_audio, temperature=0.0)["text"]
    zero = lambda x, hook: torch.zeros_like(x)
    with tiny_en.hooks(
        fwd_hooks=[
            ("encoder.blocks.0.hook_attn_out", zero),
            ("encoder.blocks.1.hook_mlp_out", zero),
        ]
    ):
        ablated = _transcribe(tiny_en, jfk_audio, temperature=0.0)["text"]
    assert ablated != plain
    assert _transcribe(tiny_en, jfk_audio, temperature=0.0)["text"] == plain  # hooks removed


def test_tokens_prefix_and_round_trip(tiny_en):
    tokens = tiny_en.to_tokens(" ask not")
    assert tokens[0, :2].tolist() == [tiny_en.tokenizer.sot, tiny_en.tokenizer.no_timestamps]
    assert tiny_en.to_string(tokens[0, 2:]) == " ask not"
    assert tiny_en.to_str_tokens(" ask not")[2:] == [" ask", " not"]
    assert (
        tiny_en.to_single_token(" country")
        == tokens.new_tensor(tiny_en.tokenizer.encode(" country")).item()
    )
    assert tiny_en.to_single_token("<|endoftext|>") == tiny_en.tokenizer.eot
    with pytest.raises(ValueError, match="not one"):
        tiny_en.to_single_token(" ask not")
    batch = tiny_en.to_tokens([" a", " ask not what"])
    assert batch.shape[0] == 2 and batch[0, -1].item() == tiny_en.tokenizer.eot


def test_tiny_en_metadata(tiny_en):
    assert not tiny_en.is_multilingual
    assert sorted(map(tuple, tiny_en.alignment_heads.indices().T.tolist())) == [
        (1, 0),
        (2, 0),
        (2, 5),
        (3, 0),
        (3, 1),
        (3, 2),
        (3, 3),
        (3, 4),
    ]
    assert not any(m.training for m in tiny_en.modules())


@pytest.fixture(scope="module")
def base_pair():
    from whisper.model import Whisper

    from hooked_audio import HookedWhisper
    from hooked_audio.models.whisper.loading.pretrained import resolve_checkpoint

    ckpt = resolve_checkpoint("base")
    ref = Whisper(ckpt.dims)
    ref.load_state_dict({k: v.float() for k, v in ckpt.state_dict.items()})
    return HookedWhisper.from_openai_state_dict(
        ckpt.dims, ckpt.state_dict, ckpt.alignment_heads
    ), ref.eval()


def test_base_multilingual_matches_openai_whisper(base_pair, jfk_audio):
    model, ref = base_pair
    assert model.is_multilingual
    tok = model.tokenizer
    assert model.to_tokens("")[0].tolist() == [
        tok.sot,
        tok.language_token,
        tok.transcribe,
        tok.no_timestamps,
    ]
    mel = model.to_mel(jfk_audio, sample_rate=16000)
    tokens = model.to_tokens(JFK_TRANSCRIPT)
    with torch.no_grad():
        torch.testing.assert_close(model(mel, tokens), ref(mel, tokens), atol=1e-4, rtol=0)
    text = whisper.decode(model, mel[0], whisper.DecodingOptions(fp16=False)).text
    assert JFK_TEXT in text.lower().replace(",", "")
    assert sorted(map(tuple, model.alignment_heads.indices().T.tolist())) == [
        (3, 1),
        (4, 2),
        (4, 3),
        (4, 7),
        (5, 1),
        (5, 2),
        (5, 4),
        (5, 6),
    ]


def test_to_frames_and_batches_of_audio(tiny_en, jfk_audio, jfk_mel):
    from importlib.resources import files

    path = files("hooked_audio") / "data" / "jfk.flac"
    frames = tiny_en.to_frames([path, jfk_audio[: 16000 * 3]], sample_rate=[None, 16000])
    assert frames.shape == (2, 2, 80, 1500)  # shape[-1]: 20 ms encoder positions
    torch.testing.assert_close(tiny_en.to_mel(path), jfk_mel, atol=0, rtol=0)
    with torch.no_grad():
        logits = tiny_en(frames, tiny_en.to_tokens([JFK_TRANSCRIPT, JFK_TRANSCRIPT]))
        single = tiny_en(jfk_mel, tiny_en.to_tokens(JFK_TRANSCRIPT))
    torch.testing.assert_close(logits[:1], single, atol=1e-4, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_tiny_en_still_reads_the_clip(tiny_en, jfk_mel, dtype):
    import copy

    half = copy.deepcopy(tiny_en).to(dtype=dtype)
    tokens = half.to_tokens(JFK_TRANSCRIPT)
    with torch.no_grad():
        logits = half(jfk_mel.to(dtype), tokens)
    assert (logits[0, :-1].argmax(-1) == tokens[0, 1:]).float().mean() > 0.9
    if dtype == torch.float16:  # openai-whisper's decode takes float16 (fp16=True) or float32
        result = whisper.decode(
            half, jfk_mel[0].to(dtype), whisper.DecodingOptions(language="en", fp16=True)
        )
        assert JFK_TEXT in result.text.lower().replace(",", "")
