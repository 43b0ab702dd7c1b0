"""The architecture seams: the shared `Attention` and Whisper's protocol subclass, the audio-LM
architecture registry, `model.cfg` / `model.config`, and the constants module."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import whisper.audio as wa
from transformer_lens.config import TransformerLensConfig
from whisper.model import ModelDimensions, Whisper

from hooked_audio import constants
from hooked_audio.components import Attention
from hooked_audio.models.audio_lm import HookedAudioLM, HookedAudioLMConfig
from hooked_audio.models.audio_lm.architectures import (
    ARCHITECTURES,
    QWEN2_AUDIO,
    VOXTRAL,
    get_architecture,
    register_architecture,
)
from hooked_audio.models.whisper import HookedWhisper, front_end, vocabulary
from hooked_audio.models.whisper.attention import WhisperAttention
from hooked_audio.models.whisper.kv_cache_tap import KVCacheTap
from hooked_audio.word_times.timed_clip import MAX_SECONDS as TIMED_CLIP_MAX_SECONDS

D_MODEL, N_HEADS = 16, 4


def _filled(attn: Attention, seed: int = 0) -> Attention:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in attn.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    return attn.eval()


def _inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(2, 5, D_MODEL, generator=generator),
        torch.randn(2, 7, D_MODEL, generator=generator),
    )


def _scores_by_hand(attn: Attention, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    q = torch.einsum("bpd,hde->bphe", x, attn.W_Q) + attn.b_Q
    k = torch.einsum("bpd,hde->bphe", source, attn.W_K) + attn.b_K
    return torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(attn.d_head)


def _dims(n_vocab: int = 51864) -> ModelDimensions:
    return ModelDimensions(
        n_mels=80,
        n_audio_ctx=12,
        n_audio_state=D_MODEL,
        n_audio_head=N_HEADS,
        n_audio_layer=2,
        n_vocab=n_vocab,
        n_text_ctx=8,
        n_text_state=D_MODEL,
        n_text_head=N_HEADS,
        n_text_layer=2,
    )


# ----------------------------------------------------------------- attention
def test_shared_attention_returns_a_tensor_and_has_no_kv_cache_taps():
    attn = _filled(Attention(D_MODEL, N_HEADS))
    x, source = _inputs()
    with torch.no_grad():
        out = attn(x, source)
        self_out = attn(x, causal=True)
    assert isinstance(out, torch.Tensor) and out.shape == x.shape
    assert isinstance(self_out, torch.Tensor) and self_out.shape == x.shape
    assert not hasattr(attn, "key") and not hasattr(attn, "value")
    assert not any(isinstance(m, KVCacheTap) for m in attn.modules())


def test_whisper_attention_returns_output_and_scores_only_when_a_forward_hook_listens():
    attn = _filled(WhisperAttention(D_MODEL, N_HEADS))
    shared = _filled(Attention(D_MODEL, N_HEADS))
    x, source = _inputs()
    assert isinstance(attn.key, KVCacheTap) and isinstance(attn.value, KVCacheTap)
    with torch.no_grad():
        fused_out, fused_scores = attn(x, source)
        assert fused_scores is None
        seen = []
        handle = attn.register_forward_hook(lambda m, a, out: seen.append(out[-1]))
        try:
            out, scores = attn(x, source)
        finally:
            handle.remove()
        expected_scores = _scores_by_hand(attn, x, source)
        # same weights in the shared component: the same output, as a plain tensor
        torch.testing.assert_close(shared(x, source), fused_out, atol=1e-5, rtol=0)
    assert scores is seen[0]
    torch.testing.assert_close(scores, expected_scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(out, fused_out, atol=1e-5, rtol=0)


def test_whisper_attention_reuses_cross_attention_keys_from_the_kv_cache():
    attn = _filled(WhisperAttention(D_MODEL, N_HEADS))
    x, source = _inputs()
    other = torch.randn_like(source)
    with torch.no_grad():
        cache = {
            attn.key: attn.project(source, attn.W_K, attn.b_K),
            attn.value: attn.project(source, attn.W_V, attn.b_V),
        }
        from_cache, _ = attn(x, other, kv_cache=cache)
        direct, _ = attn(x, source)
    torch.testing.assert_close(from_cache, direct, atol=1e-6, rtol=0)


def test_only_the_whisper_decoder_uses_whisper_attention():
    model = HookedWhisper(_dims(), seed=0)
    for block in model.encoder.blocks:
        assert type(block.attn) is Attention
    for block in model.decoder.blocks:
        assert type(block.attn) is WhisperAttention and type(block.cross_attn) is WhisperAttention


# ----------------------------------------------------------------- audio-LM registry
def _audio_lm_config(architecture: str) -> HookedAudioLMConfig:
    return HookedAudioLMConfig(
        architecture=architecture,
        n_mels=16,
        audio_d_model=32,
        audio_n_layers=1,
        audio_n_heads=4,
        audio_d_mlp=64,
        audio_n_ctx=40,
        audio_pool=2,
        projector="linear",
        d_model=32,
        n_layers=1,
        n_heads=4,
        n_key_value_heads=2,
        d_head=8,
        d_mlp=64,
        d_vocab=50,
        n_ctx=64,
        audio_token_id=49,
    )


def test_registry_refuses_an_unknown_architecture_and_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"'whisper_lm'.*registered: qwen2_audio, voxtral"):
        _audio_lm_config("whisper_lm")
    with pytest.raises(ValueError, match=r"registered: qwen2_audio, voxtral"):
        get_architecture("qwen3_audio")
    hf_config = type(
        "Config", (), {"model_type": "llava", "audio_config": None, "text_config": None}
    )()
    with pytest.raises(ValueError, match=r"'llava' is not supported.*qwen2_audio, voxtral"):
        HookedAudioLMConfig.from_hf_config(hf_config)


def test_config_looks_up_its_architecture_object():
    assert _audio_lm_config("qwen2_audio").arch is QWEN2_AUDIO
    assert _audio_lm_config("voxtral").arch is VOXTRAL
    assert QWEN2_AUDIO.masks_padding and not VOXTRAL.masks_padding
    assert VOXTRAL.splits_long_audio and not QWEN2_AUDIO.splits_long_audio


def test_a_new_architecture_is_one_object_and_its_registration():
    """A registered copy of Qwen2-Audio under another name builds a model that computes what
    the Qwen2-Audio model with the same weights computes."""
    toy = dataclasses.replace(QWEN2_AUDIO, model_type="toy_audio", display_name="Toy-Audio")
    register_architecture(toy)
    try:
        model = HookedAudioLM(_audio_lm_config("toy_audio"), seed=0)
        reference = HookedAudioLM(_audio_lm_config("qwen2_audio"), seed=0)
    finally:
        del ARCHITECTURES["toy_audio"]
    assert model.config.arch is toy and model.audio_encoder.mask_padding
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(1, 16, 80, generator=generator)
    input_ids = torch.cat([torch.arange(3), torch.full((10,), 49), torch.arange(3)])[None]
    mask = torch.zeros(1, 80, dtype=torch.long)
    mask[0, :40] = 1
    with torch.no_grad():
        got = model(input_ids=input_ids, input_features=features, feature_attention_mask=mask)
        expected = reference(
            input_ids=input_ids, input_features=features, feature_attention_mask=mask
        )
    torch.testing.assert_close(got, expected, atol=0, rtol=0)


# ----------------------------------------------------------------- cfg and config
def test_hooked_whisper_cfg_is_the_decoders_transformer_lens_config():
    model = HookedWhisper(_dims(), seed=0)
    assert isinstance(model.cfg, TransformerLensConfig)
    assert model.cfg is model.config.decoder
    assert model.config.encoder is model.encoder.cfg and model.cfg is model.decoder.cfg
    assert model.stack_configs == (model.config.encoder, model.config.decoder)
    protocol = pytest.importorskip("transformer_lens.model_protocol")  # transformer-lens 4.x
    assert isinstance(model, protocol.TransformerLensModel)
    model.to(dtype=torch.float16)
    assert model.cfg.dtype == model.config.dtype == model.config.encoder.dtype == torch.float16


def test_every_model_has_a_transformer_lens_cfg_and_its_own_config():
    lm = HookedAudioLM(_audio_lm_config("qwen2_audio"), seed=0)
    assert isinstance(lm.cfg, TransformerLensConfig) and lm.cfg is lm.config.lm
    assert lm.model_config is lm.config
    whisper_model = HookedWhisper(_dims(), seed=0)
    assert whisper_model.model_config is whisper_model.config


# ----------------------------------------------------------------- constants
def test_constants_are_what_the_model_and_hf_transformers_do(tiny_en):
    """The constants against an implementation that does not define them (HF transformers'
    `WhisperFeatureExtractor` defaults) and against what the model does with a window."""
    from transformers import WhisperFeatureExtractor

    hf = WhisperFeatureExtractor()
    assert (
        constants.SAMPLE_RATE,
        constants.HOP_LENGTH,
        front_end.N_FFT,
        front_end.WINDOW_SECONDS,
        front_end.WINDOW_SAMPLES,
        front_end.WINDOW_MEL_FRAMES,
    ) == (
        hf.sampling_rate,
        hf.hop_length,
        hf.n_fft,
        hf.chunk_length,
        hf.n_samples,
        hf.nb_max_frames,
    )
    second = np.zeros(constants.SAMPLE_RATE, np.float32)
    mel = tiny_en.to_mel(second, sample_rate=constants.SAMPLE_RATE)  # padded to a window
    assert mel.shape[-1] == front_end.WINDOW_MEL_FRAMES
    with torch.no_grad():
        assert tiny_en.encoder(mel).shape[1] == front_end.WINDOW_POSITIONS
    frames = tiny_en.to_frames(second, sample_rate=constants.SAMPLE_RATE)
    assert frames.shape[1:] == (constants.MEL_FRAMES_PER_POSITION, 80, front_end.WINDOW_POSITIONS)
    assert front_end.WINDOW_POSITIONS * constants.SECONDS_PER_POSITION == front_end.WINDOW_SECONDS
    per_position = constants.HOP_LENGTH * constants.MEL_FRAMES_PER_POSITION
    assert constants.SAMPLES_PER_POSITION == per_position
    assert constants.MEL_FRAMES_PER_SECOND * constants.HOP_LENGTH == constants.SAMPLE_RATE
    # the generic constants are openai-whisper's too; a timed clip holds one Whisper window
    assert (
        constants.SAMPLE_RATE,
        constants.HOP_LENGTH,
        constants.MEL_FRAMES_PER_SECOND,
        constants.SAMPLES_PER_POSITION,
    ) == (wa.SAMPLE_RATE, wa.HOP_LENGTH, wa.FRAMES_PER_SECOND, wa.N_SAMPLES_PER_TOKEN)
    assert TIMED_CLIP_MAX_SECONDS == front_end.WINDOW_SECONDS


@pytest.mark.parametrize("n_vocab", [51864, 51865, 51866])
def test_vocabulary_constants_give_openai_whispers_language_counts(n_vocab):
    dims = _dims(n_vocab)
    reference = Whisper(dims)
    model = HookedWhisper(dims, seed=0)
    assert model.is_multilingual == reference.is_multilingual
    assert model.num_languages == reference.num_languages
    assert (n_vocab >= vocabulary.MULTILINGUAL_VOCAB_SIZE) == reference.is_multilingual
