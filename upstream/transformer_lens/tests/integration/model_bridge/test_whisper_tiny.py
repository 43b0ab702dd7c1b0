"""Whisper on the Bridge over a tiny from_config model: no Hub download.

Wiring, hook coverage, live score/pattern hooks and bridge-vs-HF parity on identical weights.
"""

import pytest
import torch
import transformers

from transformer_lens.model_bridge import TransformerBridge
from transformer_lens.model_bridge.supported_architectures.whisper import (
    HOOKED_ATTENTION,
    WhisperArchitectureAdapter,
)

TINY = dict(
    vocab_size=64,
    num_mel_bins=8,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_source_positions=10,
    max_target_positions=12,
    decoder_start_token_id=1,
    pad_token_id=0,
    bos_token_id=0,
    eos_token_id=0,
    init_std=0.3,
)


def _hf_model(**overrides) -> transformers.WhisperForConditionalGeneration:
    config = transformers.WhisperConfig(**{**TINY, **overrides})
    config.architectures = ["WhisperForConditionalGeneration"]
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(config)
    model.set_attn_implementation("eager")
    return model.eval()


def _folder(tmp_path, **overrides):
    _hf_model(**overrides).save_pretrained(tmp_path)
    transformers.WhisperFeatureExtractor(feature_size=8).save_pretrained(tmp_path)
    return str(tmp_path)


def _inputs(batch: int = 2):
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(batch, 8, 20, generator=generator)
    tokens = torch.randint(2, 64, (batch, 5), generator=generator)
    tokens[:, 0] = 1
    return features, tokens


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _folder(tmp_path_factory.mktemp("tiny_whisper"))


@pytest.fixture(scope="module")
def bridge(folder):
    return TransformerBridge.boot_transformers(folder, device="cpu")


@pytest.fixture(scope="module")
def hf_model(folder):
    return transformers.WhisperForConditionalGeneration.from_pretrained(
        folder, attn_implementation="eager"
    ).eval()


class TestWhisperBridgeCreation:
    def test_boot_selects_the_adapter(self, bridge):
        assert isinstance(bridge.adapter, WhisperArchitectureAdapter)
        assert isinstance(bridge.original_model, transformers.WhisperForConditionalGeneration)
        assert bridge.original_model.config._attn_implementation == HOOKED_ATTENTION
        assert len(bridge.encoder_blocks) == 2
        assert len(bridge.decoder_blocks) == 2


class TestWhisperForwardEquivalence:
    def test_logits_match_hf(self, bridge, hf_model):
        features, tokens = _inputs()
        with torch.no_grad():
            bridge_logits = bridge(features, decoder_input_ids=tokens)
            hf_logits = hf_model(input_features=features, decoder_input_ids=tokens).logits
        torch.testing.assert_close(bridge_logits, hf_logits, atol=1e-5, rtol=0)

    def test_asymmetric_depths_match_hf(self, tmp_path):
        folder = _folder(tmp_path, encoder_layers=3, decoder_layers=1)
        bridge = TransformerBridge.boot_transformers(folder, device="cpu")
        hf_model = transformers.WhisperForConditionalGeneration.from_pretrained(
            folder, attn_implementation="eager"
        ).eval()
        features, tokens = _inputs()
        with torch.no_grad():
            torch.testing.assert_close(
                bridge(features, decoder_input_ids=tokens),
                hf_model(input_features=features, decoder_input_ids=tokens).logits,
                atol=1e-5,
                rtol=0,
            )
        assert (len(bridge.encoder_blocks), len(bridge.decoder_blocks)) == (3, 1)


class TestWhisperHFDelegation:
    def test_components_hold_the_hf_modules(self, bridge):
        model = bridge.original_model.model
        assert model.encoder.conv1 is bridge.conv1
        assert isinstance(bridge.conv1.original_component, torch.nn.Conv1d)
        assert model.encoder.layers[0].self_attn.q_proj is bridge.encoder_blocks[0].attn.q
        assert model.decoder.layers[1].encoder_attn is bridge.decoder_blocks[1].cross_attn
        assert bridge.original_model.proj_out is bridge.unembed


class TestWhisperHookShapes:
    def test_hooks_fire_with_expected_shapes(self, bridge):
        features, tokens = _inputs()
        with torch.no_grad():
            _, cache = bridge.run_with_cache(features, decoder_input_ids=tokens)
        assert cache["conv1.hook_out"].shape == (2, 16, 20)
        assert cache["encoder_blocks.1.hook_resid_post"].shape == (2, 10, 16)
        assert cache["encoder_blocks.0.attn.hook_z"].shape == (2, 10, 2, 8)
        assert cache["encoder_blocks.0.attn.hook_pattern"].shape == (2, 2, 10, 10)
        assert cache["decoder_blocks.0.self_attn.hook_pattern"].shape == (2, 2, 5, 5)
        assert cache["decoder_blocks.1.cross_attn.hook_pattern"].shape == (2, 2, 5, 10)
        assert cache["decoder_blocks.1.hook_resid_post"].shape == (2, 5, 16)
        assert cache["unembed.hook_out"].shape == (2, 5, 64)


class TestWhisperLiveAttentionHooks:
    def test_scores_are_pre_softmax(self, bridge):
        features, tokens = _inputs()
        with torch.no_grad():
            _, cache = bridge.run_with_cache(features, decoder_input_ids=tokens)
        for name in ("encoder_blocks.1.attn", "decoder_blocks.0.self_attn"):
            scores = cache[f"{name}.hook_attn_scores"]
            torch.testing.assert_close(torch.softmax(scores, dim=-1), cache[f"{name}.hook_pattern"])
        causal = cache["decoder_blocks.0.self_attn.hook_pattern"]
        assert causal.triu(1).abs().max() == 0

    @pytest.mark.parametrize(
        "hook_name",
        [
            "encoder_blocks.0.attn.hook_pattern",
            "encoder_blocks.1.attn.hook_attn_scores",
            "decoder_blocks.0.self_attn.hook_pattern",
            "decoder_blocks.1.cross_attn.hook_pattern",
        ],
    )
    def test_editing_a_pattern_changes_the_output(self, bridge, hook_name):
        features, tokens = _inputs()

        def zero_head_0(value, hook):
            value[:, 0] = 0.0
            return value

        with torch.no_grad():
            clean = bridge(features, decoder_input_ids=tokens)
            unchanged = bridge.run_with_hooks(
                features, decoder_input_ids=tokens, fwd_hooks=[(hook_name, lambda v, hook: v)]
            )
            edited = bridge.run_with_hooks(
                features, decoder_input_ids=tokens, fwd_hooks=[(hook_name, zero_head_0)]
            )
        torch.testing.assert_close(unchanged, clean, atol=0, rtol=0)
        assert (edited - clean).abs().max() > 1e-3


class TestWhisperInputs:
    def test_decoder_tokens_are_required(self, bridge):
        features, _ = _inputs()
        with pytest.raises(ValueError, match="decoder_input_ids"):
            bridge(features)

    def test_attention_the_adapter_cannot_hook_is_refused(self, folder):
        transformers.AttentionInterface.register(
            "test_other_attention", transformers.AttentionInterface._global_mapping["sdpa"]
        )
        hf_model = transformers.WhisperForConditionalGeneration.from_pretrained(folder).eval()
        hf_model.set_attn_implementation("test_other_attention")
        with pytest.raises(ValueError, match="'test_other_attention'"):
            TransformerBridge.boot_transformers(folder, hf_model=hf_model, device="cpu")
