"""HookedAudioLM prompting for Voxtral through HF's `VoxtralProcessor` (mistral-common's Tekken
tokenizer, written offline by `tests/helpers/audio_lm_voxtral_processor.py`): inputs equal the
processor's own chat-template output, one placeholder per audio embedding, logits and greedy
generation equal HF's, long clips split into windows, the text API through the Tekken
tokenizer, and clear errors for processors that do not fit."""

from __future__ import annotations

import pytest

pytest.importorskip("mistral_common")

import base64  # noqa: E402
import io  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from hooked_audio.models.audio_lm import HookedAudioLM  # noqa: E402
from tests.helpers.audio_lm_models import hooked, qwen2_audio_hf, voxtral_hf  # noqa: E402
from tests.helpers.audio_lm_processor import SAMPLE_RATE, tiny_feature_extractor, tiny_tokenizer  # noqa: E402
from tests.helpers.audio_lm_voxtral_processor import (  # noqa: E402
    AUDIO_ID,
    VOCAB,
    tiny_voxtral_processor,
    write_tekken,
)

# the tiny model's windows: 80 mel frames of 200 samples = 1 s, 10 placeholders each
WINDOW = dict(max_source_positions=80, pad_to_multiple_of=16000)
PER_WINDOW = 10


def _clip(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * noise).astype(np.float32)


def _chat(audio, question="What is it?"):
    item = {"type": "audio"} if audio is None else {"type": "audio", "audio": audio}
    return [{"role": "user", "content": [item, {"type": "text", "text": question}]}]


def _as_base64(clip: np.ndarray) -> str:
    """Written here apart from the library: a lossless float32 WAV, base64."""
    buffer = io.BytesIO()
    sf.write(buffer, clip, SAMPLE_RATE, format="WAV", subtype="FLOAT")
    return base64.b64encode(buffer.getvalue()).decode()


def _processor_chat(item, question="What is it?"):
    """The same chat as the processor takes it: audio as {'type': 'audio', base64/path}."""
    return [
        {"role": "user", "content": [{"type": "audio", **item}, {"type": "text", "text": question}]}
    ]


def _processor_inputs(processor, chats):
    return processor.apply_chat_template(
        chats, tokenize=True, return_dict=True, return_tensors="pt", processor_kwargs=dict(WINDOW)
    )


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    return tiny_voxtral_processor(tmp_path_factory.mktemp("tekken"))


@pytest.fixture(scope="module")
def hf_model():
    return voxtral_hf(seed=3, vocab_size=VOCAB, audio_token_id=AUDIO_ID)


@pytest.fixture(scope="module")
def model(hf_model, processor):
    model = hooked(hf_model)
    model.set_processor(processor)
    return model


def _assert_logits_match_hf(model, hf_model, inputs):
    with torch.no_grad():
        ours = model(**inputs)
        ref = hf_model(**inputs).logits
    valid = inputs["attention_mask"].bool()
    assert ref[valid].abs().max() > 0.1
    torch.testing.assert_close(ours[valid], ref[valid], atol=1e-4, rtol=0)


def test_chat_inputs_are_the_processors_and_match_hf_logits(model, hf_model, processor):
    """A batch of two chats (1.5 s and 0.4 s clips): the inputs are exactly what the processor
    gives for the same chats, each clip's placeholders fill whole windows (2 and 1), there is
    one placeholder per audio embedding, and the logits equal HF's."""
    clips = [_clip(1.5, seed=1), _clip(0.4, seed=2)]
    inputs = model.prepare_inputs(conversation=[_chat(clips[0]), _chat(clips[1], "Who?")])
    assert set(inputs) == {"input_ids", "attention_mask", "input_features"}
    direct = _processor_inputs(
        processor,
        [
            _processor_chat({"base64": _as_base64(clips[0])}),
            _processor_chat({"base64": _as_base64(clips[1])}, "Who?"),
        ],
    )
    assert set(direct) == set(inputs)
    for key, value in inputs.items():
        assert torch.equal(value, direct[key]), key
    assert inputs["input_features"].shape == (3, 16, 80)  # 2 windows + 1 window
    audio = model.audio_positions(inputs["input_ids"])
    assert audio.sum(-1).tolist() == [2 * PER_WINDOW, PER_WINDOW]
    with torch.no_grad():
        assert model.embed_audio(inputs["input_features"]).shape[0] == int(audio.sum())
    # the chat template: <s>[INST][BEGIN_AUDIO][AUDIO]*n question[/INST], left-padded
    assert model.to_string(inputs["input_ids"][0]) == (
        "<s>[INST][BEGIN_AUDIO]" + "[AUDIO]" * 20 + "What is it?[/INST]"
    )
    assert inputs["attention_mask"][:, -1].all() and not inputs["attention_mask"][1, 0]
    _assert_logits_match_hf(model, hf_model, inputs)


def test_long_clip_is_split_into_windows_and_matches_hf(model, hf_model, processor):
    """A 2.3 s clip: padded to 3 s, cut into 3 windows whose features are consecutive slices
    of the clip's log-mel, 30 placeholders; logits equal HF's."""
    clip = _clip(2.3, seed=4)
    inputs = model.prepare_inputs(conversation=_chat(clip, "Transcribe."))
    assert inputs["input_features"].shape == (3, 16, 80)
    assert int(model.audio_positions(inputs["input_ids"]).sum()) == 3 * PER_WINDOW
    padded = np.pad(clip, (0, 3 * SAMPLE_RATE - len(clip)))
    mel = processor.feature_extractor(
        padded,
        sampling_rate=SAMPLE_RATE,
        padding=True,
        pad_to_multiple_of=16000,
        truncation=False,
        return_tensors="pt",
    )["input_features"][0]
    assert mel.shape == (16, 240)
    for window in range(3):
        assert torch.equal(
            inputs["input_features"][window], mel[:, 80 * window : 80 * (window + 1)]
        )
    _assert_logits_match_hf(model, hf_model, inputs)


def test_audio_from_paths_and_apart_from_the_chat(model, processor, tmp_path):
    """A 16-bit WAV path in the chat gives what the processor gives from the same path (both
    read the same samples); clips given with audio= fill payload-less audio items in order;
    other rates are resampled by hooked_audio's loader."""
    clip = _clip(0.7, seed=5)
    path = tmp_path / "clip.wav"
    sf.write(path, clip, SAMPLE_RATE, subtype="PCM_16")
    ours = model.prepare_inputs(conversation=_chat(str(path)))
    direct = _processor_inputs(processor, _processor_chat({"path": str(path)}))
    for key, value in ours.items():
        assert torch.equal(value, direct[key]), key
    apart = model.prepare_inputs(conversation=_chat(None), audio=str(path))
    assert all(torch.equal(apart[k], ours[k]) for k in ours)
    two = [
        {
            "role": "user",
            "content": [{"type": "audio"}, {"type": "text", "text": "and"}, {"type": "audio"}],
        }
    ]
    both = model.prepare_inputs(conversation=two, audio=[clip, _clip(1.2, seed=6)])
    assert both["input_features"].shape[0] == 3
    assert model.to_string(both["input_ids"][0]) == (
        "<s>[INST][BEGIN_AUDIO]" + "[AUDIO]" * 10 + "and[BEGIN_AUDIO]" + "[AUDIO]" * 20 + "[/INST]"
    )
    high = np.interp(np.arange(int(0.7 * 48000)) / 48000, np.arange(len(clip)) / SAMPLE_RATE, clip)
    resampled = model.prepare_inputs(
        conversation=_chat(high.astype(np.float32)), sampling_rate=48000
    )
    assert torch.equal(resampled["input_ids"], ours["input_ids"])


def test_text_only_chat_and_right_padding(model, processor):
    inputs = model.prepare_inputs(conversation=[{"role": "user", "content": "Hello"}])
    assert set(inputs) == {"input_ids", "attention_mask"}
    assert model.to_string(inputs["input_ids"][0]) == "<s>[INST]Hello[/INST]"
    batch = model.prepare_inputs(
        conversation=[_chat(_clip(0.3)), _chat(_clip(1.3), "Who?")], padding_side="right"
    )
    assert not batch["attention_mask"][0, -1] and batch["attention_mask"][:, 0].all()
    assert processor.tokenizer.padding_side == "left"  # restored


def test_generate_on_prepared_inputs_matches_hf(model, hf_model):
    inputs = model.prepare_inputs(conversation=[_chat(_clip(1.5, seed=7)), _chat(_clip(0.5), "Hm")])
    ours = model.generate(**inputs, max_new_tokens=4, stop_at_eos=False)
    hf_model.generation_config.eos_token_id = None
    ref = hf_model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert torch.equal(ours, ref)


def test_text_api_through_the_tekken_tokenizer(model):
    """Special tokens written in the text get their ids (mistral-common alone would spell
    them out), no BOS unless asked, batches padded with <pad>."""
    tokens = model.to_tokens("[INST]he the[/INST]")
    assert tokens[0, 0] == 3 and tokens[0, -1] == 4
    assert model.to_string(tokens[0]) == "[INST]he the[/INST]"
    assert model.to_str_tokens("[INST]he the") == ["[INST]", "he", " the"]
    assert model.to_single_token("[AUDIO]") == AUDIO_ID
    assert (
        model.to_single_token(" the")
        == model.processor.tokenizer.encode(" the", add_special_tokens=False)[0]
    )
    assert model.to_tokens("he", prepend_bos=True).tolist() == [[1, 297]]
    batch = model.to_tokens(["he", "he he"], padding_side="left")
    assert batch[0, 0] == 11 and batch.shape == (2, 3)
    with pytest.raises(ValueError, match="not one"):
        model.to_single_token("hello")


def test_processor_from_a_checkpoint_dir(hf_model, processor, model, tmp_path):
    hf_model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded = HookedAudioLM.from_pretrained(str(tmp_path))
    assert type(loaded.processor.tokenizer).__name__ == "MistralCommonBackend"
    chat = _chat(_clip(0.9, seed=8))
    a, b = loaded.prepare_inputs(conversation=chat), model.prepare_inputs(conversation=chat)
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ errors
def test_error_text_instead_of_conversation(model):
    with pytest.raises(ValueError, match="Voxtral prompts are built by its chat template"):
        model.prepare_inputs(text="[AUDIO] what?", audio=_clip(0.5))
    with pytest.raises(ValueError, match="Voxtral prompts are built by its chat template"):
        model.prepare_inputs(text="Hello")


def test_error_clip_and_audio_item_counts(model):
    with pytest.raises(ValueError, match="1 audio items but 2 clips"):
        model.prepare_inputs(conversation=_chat(None), audio=[_clip(0.5), _clip(0.5)])
    with pytest.raises(ValueError, match="0 audio items but 1 clips"):
        model.prepare_inputs(conversation=[{"role": "user", "content": "Hi"}], audio=_clip(0.5))
    with pytest.raises(ValueError, match="padding_side"):
        model.prepare_inputs(conversation=_chat(_clip(0.5)), padding_side="middle")


@pytest.mark.parametrize(
    "tekken, features, message",
    [
        (dict(), dict(feature_size=20), "feature extractor makes 20 mel bins"),
        (dict(n_mels=20), dict(), "Tekken audio config counts 20 mel bins"),
        (dict(hop_length=160), dict(), "disagree"),
        (dict(chunk_length_s=2.0), dict(), "windows of 32000 samples"),
        (dict(chunk_length_s=None), dict(), "pads clips to no window"),
        (dict(frame_rate=20.0), dict(), "writes 20 audio placeholders per window"),
        (dict(audio_id=26), dict(), r"\[AUDIO\] has id 26"),
        (dict(with_audio=False), dict(), "Tekken tokenizer has no audio config"),
    ],
)
def test_error_processor_does_not_fit(model, tmp_path, tekken, features, message):
    bad = tiny_voxtral_processor(tmp_path, **features, **tekken)
    with pytest.raises(ValueError, match=message):
        model.set_processor(bad)
    with pytest.raises(ValueError, match=message):
        model.prepare_inputs(conversation=_chat(_clip(0.5)), processor=bad)


def test_error_processor_of_another_model(processor, tmp_path):
    small = hooked(voxtral_hf(vocab_size=300, audio_token_id=AUDIO_ID))
    with pytest.raises(ValueError, match="tokenizer has 305 tokens"):
        small.set_processor(processor)
    with pytest.raises(ValueError, match="needs a Qwen2AudioProcessor"):
        hooked(qwen2_audio_hf()).set_processor(processor)
    from transformers import VoxtralProcessor

    fallback = VoxtralProcessor(
        feature_extractor=tiny_feature_extractor(), tokenizer=tiny_tokenizer()
    )
    with pytest.raises(ValueError, match="tokenizer is a .*mistral-common's tokenizer"):
        hooked(voxtral_hf(vocab_size=VOCAB, audio_token_id=AUDIO_ID)).set_processor(fallback)


def test_from_pretrained_warns_for_a_processor_that_does_not_fit(hf_model, tmp_path, monkeypatch):
    from transformers import VoxtralProcessor

    import hooked_audio.models.audio_lm.hf_conversion as conversion

    hf_model.save_pretrained(tmp_path)
    fallback = VoxtralProcessor(
        feature_extractor=tiny_feature_extractor(), tokenizer=tiny_tokenizer()
    )
    monkeypatch.setattr(conversion, "load_hf_processor", lambda name: fallback)
    with pytest.warns(UserWarning, match="without the checkpoint's processor.*mistral-common"):
        loaded = HookedAudioLM.from_pretrained(str(tmp_path))
    assert loaded.processor is None


def test_tekken_file_is_what_the_tiny_model_needs(tmp_path, processor):
    """The helper's Tekken file: [AUDIO] at the id VoxtralProcessor assumes, 10 per window."""
    assert write_tekken(tmp_path).name == "tekken.json"
    assert processor.audio_token_id == AUDIO_ID and processor.audio_token == "[AUDIO]"
    assert len(processor.tokenizer) == 305 <= VOCAB
