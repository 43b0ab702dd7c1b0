"""Unit tests for the WhisperArchitectureAdapter.

Download-free: tiny synthetic configs, structural assertions only.
"""

import pytest
import torch

from tests.unit.model_bridge.supported_architectures.helpers import make_bridge_cfg
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.factories.architecture_adapter_factory import (
    SUPPORTED_ARCHITECTURES,
)
from transformer_lens.model_bridge.generalized_components import (
    BlockBridge,
    EmbeddingBridge,
    NormalizationBridge,
    PosEmbedBridge,
    UnembeddingBridge,
)
from transformer_lens.model_bridge.sources.transformers import (
    determine_architecture_from_hf_config,
    get_hf_model_class_for_architecture,
)
from transformer_lens.model_bridge.supported_architectures.whisper import (
    HOOKED_ATTENTION,
    WhisperArchitectureAdapter,
    WhisperAttentionBridge,
    hooked_eager_attention,
)


def _base_cfg(encoder_layers: int = 2, decoder_layers: int = 2) -> TransformerBridgeConfig:
    cfg = make_bridge_cfg(
        "WhisperForConditionalGeneration",
        d_model=64,
        d_head=16,
        n_layers=encoder_layers,
        n_ctx=32,
        n_heads=4,
        d_mlp=256,
        d_vocab=512,
    )
    cfg.encoder_layers = encoder_layers
    cfg.decoder_layers = decoder_layers
    cfg.encoder_attention_heads = 4
    cfg.decoder_attention_heads = 4
    cfg.encoder_ffn_dim = 256
    cfg.decoder_ffn_dim = 256
    return cfg


@pytest.fixture(scope="class")
def adapter() -> WhisperArchitectureAdapter:
    return WhisperArchitectureAdapter(_base_cfg())


class TestWhisperRegistration:
    def test_factory_and_lookup(self):
        import transformers

        assert SUPPORTED_ARCHITECTURES["WhisperForConditionalGeneration"] is (
            WhisperArchitectureAdapter
        )
        config = transformers.WhisperConfig()
        assert determine_architecture_from_hf_config(config) == "WhisperForConditionalGeneration"

    def test_loads_with_the_speech_seq2seq_auto_class(self):
        from transformers import AutoModelForSpeechSeq2Seq

        model_class = get_hf_model_class_for_architecture("WhisperForConditionalGeneration")
        assert model_class is AutoModelForSpeechSeq2Seq


class TestWhisperComponentMapping:
    def test_top_level_components(self, adapter):
        mapping = adapter.component_mapping
        assert list(mapping) == [
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
        assert mapping["conv1"].name == "model.encoder.conv1"
        assert mapping["conv2"].name == "model.encoder.conv2"
        assert isinstance(mapping["pos_embed"], PosEmbedBridge)
        assert mapping["pos_embed"].name == "model.encoder.embed_positions"
        assert isinstance(mapping["decoder_embed"], EmbeddingBridge)
        assert isinstance(mapping["encoder_ln_final"], NormalizationBridge)
        assert mapping["decoder_ln_final"].name == "model.decoder.layer_norm"
        assert isinstance(mapping["unembed"], UnembeddingBridge)
        assert mapping["unembed"].name == "proj_out"

    def test_encoder_block(self, adapter):
        block = adapter.component_mapping["encoder_blocks"]
        assert isinstance(block, BlockBridge)
        assert block.name == "model.encoder.layers"
        assert set(block.submodules) == {"attn", "ln1", "ln2", "mlp"}
        assert block.submodules["ln1"].name == "self_attn_layer_norm"
        assert block.submodules["ln2"].name == "final_layer_norm"

    def test_decoder_block(self, adapter):
        block = adapter.component_mapping["decoder_blocks"]
        assert block.name == "model.decoder.layers"
        names = {key: sub.name for key, sub in block.submodules.items()}
        assert names == {
            "self_attn": "self_attn",
            "ln1": "self_attn_layer_norm",
            "cross_attn": "encoder_attn",
            "ln2": "encoder_attn_layer_norm",
            "ln3": "final_layer_norm",
            "mlp": None,
        }

    def test_every_attention_has_live_pattern_hooks(self, adapter):
        encoder = adapter.component_mapping["encoder_blocks"].submodules
        decoder = adapter.component_mapping["decoder_blocks"].submodules
        for attention in (encoder["attn"], decoder["self_attn"], decoder["cross_attn"]):
            assert isinstance(attention, WhisperAttentionBridge)
            assert {k: v.name for k, v in attention.submodules.items()} == {
                "q": "q_proj",
                "k": "k_proj",
                "v": "v_proj",
                "o": "out_proj",
            }
        assert decoder["cross_attn"].is_cross_attention


class TestWhisperConfig:
    def test_flags(self, adapter):
        assert adapter.cfg.is_audio_model is True
        assert adapter.cfg.attn_implementation == HOOKED_ATTENTION
        assert adapter.cfg.normalization_type == "LN"
        assert adapter.cfg.positional_embedding_type == "standard"
        assert adapter.cfg.gated_mlp is False
        assert adapter.supports_generation is False
        assert adapter.supports_fold_ln is False
        assert adapter.audio_input_name == "input_features"

    def test_asymmetric_depths_are_accepted(self):
        # large-v3-turbo: 32 encoder layers, 4 decoder layers
        adapter = WhisperArchitectureAdapter(_base_cfg(encoder_layers=32, decoder_layers=4))
        assert adapter.cfg.n_layers == 32

    def test_unequal_head_counts_are_refused(self):
        cfg = _base_cfg()
        cfg.decoder_attention_heads = 2
        with pytest.raises(ValueError, match="symmetric attention heads"):
            WhisperArchitectureAdapter(cfg)


class TestHookedEagerAttention:
    def test_without_a_bridge_it_is_eager_attention(self):
        torch.manual_seed(0)
        query, key, value = (torch.randn(2, 4, 5, 8) for _ in range(3))
        mask = torch.zeros(2, 1, 5, 5).masked_fill(torch.ones(5, 5).triu(1).bool(), -1e9)
        module = torch.nn.Module()
        output, pattern = hooked_eager_attention(module, query, key, value, mask, scaling=0.5)
        expected_pattern = torch.softmax(query @ key.transpose(2, 3) * 0.5 + mask, dim=-1)
        torch.testing.assert_close(pattern, expected_pattern)
        torch.testing.assert_close(output, (expected_pattern @ value).transpose(1, 2))
