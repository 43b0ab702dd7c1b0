"""The Whisper adapter as TransformerLens tests its own (`tests/unit/model_bridge/
supported_architectures/test_*_adapter.py`): a synthetic config, no weights, structure only."""

from __future__ import annotations

import pytest
import transformers
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.factories.architecture_adapter_factory import ArchitectureAdapterFactory

import hooked_audio  # noqa: F401  (registers the adapter)
from hooked_audio.models.whisper.bridge import (
    ATTENTION_IMPLEMENTATION,
    WhisperArchitectureAdapter,
    WhisperAttentionBridge,
    check_whisper_config,
)


def _make_cfg(**hf_attributes) -> TransformerBridgeConfig:
    """TransformerLens's config; `hf_attributes` (HF names such as `decoder_layers`) set on it
    as `build_bridge_config_from_hf` passes them through."""
    settings = dict(
        d_model=32,
        d_head=8,
        n_layers=2,
        n_ctx=64,
        n_heads=4,
        d_vocab=100,
        d_mlp=128,
        architecture="WhisperForConditionalGeneration",
    )
    cfg = TransformerBridgeConfig(**settings)
    for name, value in hf_attributes.items():
        setattr(cfg, name, value)
    return cfg


@pytest.fixture(scope="module")
def adapter() -> WhisperArchitectureAdapter:
    return WhisperArchitectureAdapter(_make_cfg())


class TestWhisperAdapterMapping:
    def test_factory_selects_the_adapter(self):
        adapter = ArchitectureAdapterFactory.select_architecture_adapter(_make_cfg())
        assert type(adapter) is WhisperArchitectureAdapter

    def test_component_mapping_covers_whisper(self, adapter):
        assert list(adapter.component_mapping) == [
            "conv1",
            "conv2",
            "pos_embed",
            "encoder_blocks",
            "encoder_ln_final",
            "decoder_embed",
            "decoder_pos_embed",
            "decoder_blocks",
            "decoder_ln_final",
            "unembed",
        ]
        mapping = adapter.component_mapping
        assert mapping["conv1"].name == "model.encoder.conv1"
        assert mapping["pos_embed"].name == "model.encoder.embed_positions"
        assert mapping["unembed"].name == "proj_out"
        assert mapping["encoder_ln_final"].name == "model.encoder.layer_norm"

    def test_blocks_have_whisper_submodules(self, adapter):
        encoder = adapter.component_mapping["encoder_blocks"].submodules
        decoder = adapter.component_mapping["decoder_blocks"].submodules
        assert set(encoder) == {"attn", "ln1", "ln2", "mlp"}
        assert set(decoder) == {"self_attn", "ln1", "cross_attn", "ln2", "ln3", "mlp"}
        assert decoder["cross_attn"].name == "encoder_attn"
        assert decoder["ln2"].name == "encoder_attn_layer_norm"
        for attention in (encoder["attn"], decoder["self_attn"], decoder["cross_attn"]):
            assert isinstance(attention, WhisperAttentionBridge)
            assert {k: v.name for k, v in attention.submodules.items()} == {
                "q": "q_proj",
                "k": "k_proj",
                "v": "v_proj",
                "o": "out_proj",
            }

    def test_config_flags(self, adapter):
        assert adapter.cfg.is_audio_model is True
        assert adapter.cfg.attn_implementation == ATTENTION_IMPLEMENTATION
        assert adapter.cfg.normalization_type == "LN"
        assert adapter.cfg.final_rms is False and adapter.cfg.gated_mlp is False
        assert adapter.supports_generation is False
        assert adapter.supports_fold_ln is False


class TestWhisperAdapterQuirks:
    def test_encoder_and_decoder_depths_may_differ(self):
        # large-v3-turbo: 32 encoder layers, 4 decoder layers
        adapter = WhisperArchitectureAdapter(_make_cfg(encoder_layers=32, decoder_layers=4))
        assert adapter.cfg.n_layers == 32

    def test_unequal_head_counts_are_refused_by_name(self):
        with pytest.raises(
            ValueError, match="encoder_attention_heads=4, decoder_attention_heads=2"
        ):
            WhisperArchitectureAdapter(
                _make_cfg(encoder_attention_heads=4, decoder_attention_heads=2)
            )

    def test_an_unknown_config_option_is_refused_by_name(self):
        config = transformers.WhisperConfig()
        config.some_future_option = 3
        with pytest.raises(ValueError, match="some_future_option=3"):
            check_whisper_config(config, source="test")

    def test_options_hf_computes_are_accepted(self):
        check_whisper_config(
            transformers.WhisperConfig(activation_function="relu", encoder_ffn_dim=100),
            source="test",
        )

    def test_another_model_type_is_refused(self):
        with pytest.raises(ValueError, match="'bart' model"):
            check_whisper_config(transformers.BartConfig(), source="test")
