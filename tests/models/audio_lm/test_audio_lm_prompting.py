"""HookedAudioLM prompting: inputs built by a (tiny, offline) Qwen2-Audio processor, the
TransformerLens text API through its tokenizer, and clear errors for bad audio, prompts and
processors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import Qwen2AudioProcessor, WhisperFeatureExtractor

from hooked_audio.audio import AudioInputError
from hooked_audio.models.audio_lm.audio_tower import pooled_lengths
from tests.helpers.audio_lm_models import AUDIO_TOKEN, hooked, qwen2_audio_hf, voxtral_hf
from tests.helpers.audio_lm_processor import (
    SAMPLE_RATE,
    tiny_feature_extractor,
    tiny_processor,
    tiny_tokenizer,
)


def _clip(seconds: float, seed: int = 0, rate: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * noise).astype(np.float32)


def _conversation(audio, question="What is it?"):
    return [
        {
            "role": "user",
            "content": [{"type": "audio", "audio": audio}, {"type": "text", "text": question}],
        }
    ]


@pytest.fixture(scope="module")
def hf_model():
    return qwen2_audio_hf(seed=2)


@pytest.fixture(scope="module")
def model(hf_model):
    model = hooked(hf_model)
    model.set_processor(tiny_processor())
    return model


def test_processor_inputs_expand_audio_and_match_hf_logits(model, hf_model):
    """A batch of a chat (0.7 s clip) and a plain prompt (0.3 s clip): each placeholder is
    expanded to exactly as many positions as the model makes audio embeddings for its clip, and
    the model's logits on these inputs equal HF's."""
    clips = [_clip(0.7, seed=1), _clip(0.3, seed=2)]
    conversation = _conversation(clips[0])
    plain = "Say: <|audio_bos|><|AUDIO|><|audio_eos|> ok"
    rendered = model.processor.apply_chat_template(
        conversation, add_generation_prompt=True, tokenize=False
    )
    inputs = model.prepare_inputs(text=[rendered, plain], audio=clips)
    assert set(inputs) == {
        "input_ids",
        "attention_mask",
        "input_features",
        "feature_attention_mask",
    }
    # the processor's own output, unchanged
    direct = model.processor(
        text=[rendered, plain],
        audio=clips,
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        padding=True,
        padding_side="left",
    )
    for key, value in inputs.items():
        torch.testing.assert_close(value, direct[key].to(value.dtype), rtol=0, atol=0)
    # placeholders: one per audio embedding, per clip
    mel_lengths = inputs["feature_attention_mask"].sum(-1)
    assert mel_lengths.tolist() == [56, 24]  # 0.7 s and 0.3 s of 12.5 ms frames
    per_clip = pooled_lengths(mel_lengths.long(), model.config.audio_pool)
    audio = model.audio_positions(inputs["input_ids"])
    assert audio.sum(-1).tolist() == per_clip.tolist()
    with torch.no_grad():
        n_embeddings = model.embed_audio(
            inputs["input_features"], inputs["feature_attention_mask"]
        ).shape[0]
        assert n_embeddings == int(audio.sum())
        ours = model(**inputs)
        ref = hf_model(**inputs).logits
    valid = inputs["attention_mask"].bool()
    assert not valid[1].all()  # the shorter prompt is left-padded
    assert ref[valid].abs().max() > 0.1
    torch.testing.assert_close(ours[valid], ref[valid], atol=1e-4, rtol=0)


def test_conversation_uses_chat_template_and_its_audio_items(model):
    clip = _clip(0.5)
    inputs = model.prepare_inputs(conversation=_conversation(clip, "Who speaks?"))
    text = model.to_string(inputs["input_ids"][0])
    assert text.startswith("<|im_start|>system\n")
    assert text.endswith("Who speaks?<|im_end|>\n<|im_start|>assistant\n")
    expected = int(pooled_lengths(torch.tensor([40]), 2))
    assert "<|audio_bos|>" + "<|AUDIO|>" * expected + "<|audio_eos|>" in text
    # audio= overrides nothing: the same clip given apart gives the same inputs
    same = model.prepare_inputs(conversation=_conversation(None, "Who speaks?"), audio=clip)
    for key in inputs:
        assert torch.equal(inputs[key], same[key])
    # a batch of conversations, padded on the left
    batch = model.prepare_inputs(conversation=[_conversation(clip), _conversation(_clip(0.2))])
    assert batch["input_ids"].shape[0] == 2 and batch["attention_mask"][:, -1].all()
    assert not batch["attention_mask"][1, 0]


def test_audio_is_loaded_like_hooked_whisper(model, tmp_path):
    """Paths, other sample rates and stereo go through `load_audio`: resampled to 16 kHz and
    channels averaged, giving the features of the equivalent 16 kHz mono clip."""
    prompt = "<|audio_bos|><|AUDIO|><|audio_eos|>"
    mono = _clip(0.6, seed=3)
    reference = model.prepare_inputs(text=prompt, audio=mono)["input_features"]
    stereo = np.stack([mono * 0.5, mono * 1.5])  # (channels, samples)
    torch.testing.assert_close(
        model.prepare_inputs(text=prompt, audio=stereo)["input_features"],
        reference,
        atol=1e-5,
        rtol=0,
    )
    path = tmp_path / "clip.wav"
    sf.write(path, mono, SAMPLE_RATE, subtype="FLOAT")
    torch.testing.assert_close(
        model.prepare_inputs(text=prompt, audio=str(path))["input_features"],
        reference,
        atol=1e-6,
        rtol=0,
    )
    high = _clip(0.6, seed=3, rate=48000)
    resampled = model.prepare_inputs(text=prompt, audio=torch.from_numpy(high), sampling_rate=48000)
    assert resampled["feature_attention_mask"].sum() == reference.new_tensor(48).long()
    same_tone = model.prepare_inputs(text=prompt, audio=_clip(0.6, seed=3))
    # a 48 kHz recording of the same tone gives (nearly) the same log-mel
    assert (resampled["input_features"] - same_tone["input_features"]).abs().mean() < 0.1
    # library audio carries its rate: no sampling_rate= needed, and none is assumed
    from hooked_audio import Audio

    carried = model.prepare_inputs(text=prompt, audio=Audio(high, sample_rate=48000))
    torch.testing.assert_close(carried["input_features"], resampled["input_features"])


def test_text_only_prompt(model):
    inputs = model.prepare_inputs(text=["Hello", "Hi there"])
    assert set(inputs) == {"input_ids", "attention_mask"}
    assert model.to_string(inputs["input_ids"][1]) == "Hi there"
    logits = model(**inputs)
    assert logits.shape == (2, 8, model.cfg.d_vocab)


def test_processor_round_trips_through_a_checkpoint_dir(model, tmp_path):
    tiny_processor().save_pretrained(tmp_path)
    fresh = hooked(qwen2_audio_hf(seed=2))
    fresh.set_processor(str(tmp_path))
    assert isinstance(fresh.processor, Qwen2AudioProcessor)
    clip = _clip(0.4)
    a = fresh.prepare_inputs(conversation=_conversation(clip))
    b = model.prepare_inputs(conversation=_conversation(clip))
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ TransformerLens text API
def test_text_api(model):
    tokens = model.to_tokens("Hi<|AUDIO|>")
    assert tokens.tolist() == [[33, 8, AUDIO_TOKEN]]
    assert model.to_string(tokens[0]) == "Hi<|AUDIO|>"
    assert model.to_string(tokens) == ["Hi<|AUDIO|>"]
    assert model.to_str_tokens("Hi<|AUDIO|>") == ["H", "i", "<|AUDIO|>"]
    assert model.to_str_tokens(tokens) == ["H", "i", "<|AUDIO|>"]
    assert model.to_single_token("<|AUDIO|>") == model.config.audio_token_id
    assert model.to_single_token("<|im_end|>") == model.tokenizer.eos_token_id == 99
    with pytest.raises(ValueError, match="'Hi' is 2 tokens, not one"):
        model.to_single_token("Hi")
    batch = model.to_tokens(["a", "abc"])
    assert batch.tolist() == [[0, 97, 97], [0, 1, 2]]
    assert model.to_tokens(["a", "abc"], padding_side="left").tolist() == [[97, 97, 0], [0, 1, 2]]
    with pytest.raises(ValueError, match="no BOS token"):
        model.to_tokens("a", prepend_bos=True)


# ------------------------------------------------------------------ bad input
def test_error_no_processor():
    bare = hooked(qwen2_audio_hf())
    for call in (lambda: bare.prepare_inputs(text="hi"), lambda: bare.to_tokens("hi")):
        with pytest.raises(ValueError, match="No processor is attached.*set_processor"):
            call()
    # a processor passed per call works without attaching one
    assert bare.prepare_inputs(text="hi", processor=tiny_processor())["input_ids"].shape == (1, 2)


def test_error_audio_longer_than_the_window(model):
    with pytest.raises(
        AudioInputError,
        match=r"Clip 0 lasts 1.50 s.*one 1 s window per clip "
        r"\(80 mel frames\).*Trim.*or split",
    ):
        model.prepare_inputs(conversation=_conversation(_clip(1.5)))
    # exactly one window is fine
    inputs = model.prepare_inputs(conversation=_conversation(_clip(1.0)))
    assert inputs["feature_attention_mask"].sum() == 80


@pytest.mark.parametrize(
    "audio, rate, message",
    [
        (np.zeros(0, np.float32), None, "audio is empty"),
        (np.array([0.1, np.nan, 0.2] * 100, np.float32), None, "NaN"),
        (np.zeros((3000, 2), np.float32), -5, "sampling_rate must be a positive int"),
        (np.zeros((10, 3000), np.float32), None, "no channel axis"),
    ],
)
def test_error_bad_audio(model, audio, rate, message):
    with pytest.raises(AudioInputError, match=message):
        model.prepare_inputs(
            text="<|audio_bos|><|AUDIO|><|audio_eos|>", audio=audio, sampling_rate=rate
        )


def test_error_file_rate_conflicts(model, tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, _clip(0.3, rate=8000), 8000)
    with pytest.raises(AudioInputError, match="conflicts with the 8000 Hz"):
        model.prepare_inputs(text="<|AUDIO|>", audio=str(path), sampling_rate=16000)
    assert (
        model.prepare_inputs(text="<|AUDIO|>", audio=str(path))["feature_attention_mask"].sum()
        == 24
    )


def test_error_prompt_without_placeholder(model):
    with pytest.raises(
        ValueError,
        match="text has no audio placeholder '<\\|AUDIO\\|>'.*"
        "<\\|audio_bos\\|><\\|AUDIO\\|><\\|audio_eos\\|>",
    ):
        model.prepare_inputs(text="What is this sound?", audio=_clip(0.5))
    with pytest.raises(ValueError, match="2 audio placeholders.*but 1 clips"):
        model.prepare_inputs(text="<|AUDIO|> and <|AUDIO|>", audio=_clip(0.5))
    with pytest.raises(ValueError, match="1 audio placeholders.*but 0 clips"):
        model.prepare_inputs(text="<|AUDIO|>")
    with pytest.raises(ValueError, match="text= .* or conversation="):
        model.prepare_inputs(audio=_clip(0.5))
    with pytest.raises(ValueError, match="conversation is empty"):
        model.prepare_inputs(conversation=[])
    with pytest.raises(AudioInputError, match="does not download audio"):
        model.prepare_inputs(
            conversation=[
                {
                    "role": "user",
                    "content": [{"type": "audio", "audio_url": "https://example.org/a.wav"}],
                }
            ]
        )


def test_error_processor_does_not_match(model):
    with pytest.raises(ValueError, match="makes 80 mel bins; this model takes 16"):
        model.set_processor(tiny_processor(feature_size=80))
    with pytest.raises(ValueError, match="pads to 160 mel frames.*windows of 80"):
        model.set_processor(tiny_processor(chunk_length=2))
    wrong_token = Qwen2AudioProcessor(
        feature_extractor=tiny_feature_extractor(),
        tokenizer=tiny_tokenizer(),
        audio_token="<|audio_eos|>",
    )
    with pytest.raises(ValueError, match="has id 102; this model puts audio at token id 100"):
        model.set_processor(wrong_token)
    big_vocab = Qwen2AudioProcessor(
        feature_extractor=tiny_feature_extractor(), tokenizer=tiny_tokenizer(extra_tokens=20)
    )
    with pytest.raises(
        ValueError, match="tokenizer has 123 tokens; this model's vocabulary has 120"
    ):
        model.set_processor(big_vocab)
    with pytest.raises(
        ValueError,
        match="A WhisperFeatureExtractor cannot prepare inputs.*needs a Qwen2AudioProcessor",
    ):
        model.set_processor(WhisperFeatureExtractor(feature_size=16))
    with pytest.raises(
        ValueError,
        match="A Qwen2AudioProcessor cannot prepare inputs for this "
        "voxtral model: it needs a VoxtralProcessor",
    ):
        hooked(voxtral_hf()).set_processor(tiny_processor())
    with pytest.raises(ValueError, match="makes 80 mel bins"):
        model.prepare_inputs(text="hi", processor=tiny_processor(feature_size=80))
    assert isinstance(model.processor, Qwen2AudioProcessor)  # the attached one is kept
    assert model.processor.feature_extractor.feature_size == 16
