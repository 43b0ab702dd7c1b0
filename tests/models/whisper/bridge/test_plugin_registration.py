"""hooked_audio's Whisper adapter is what TransformerLens 4.3.0's own machinery picks: its
entry point, its factory, its architecture lookup; checkpoint options are whitelisted. (The
adapter's structure is tested in TransformerLens's style by the upstream contribution's
tests, run against the TransformerLens source by scripts/upstream_transformer_lens.)"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points

import pytest
import transformers
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.factories.architecture_adapter_factory import ArchitectureAdapterFactory

import hooked_audio
from hooked_audio.models.whisper.bridge import (
    HOOKED_ATTENTION,
    WhisperArchitectureAdapter,
    WhisperPluginAdapter,
    check_whisper_config,
)


def test_entry_point_names_the_plugin_adapter():
    (point,) = [
        ep
        for ep in entry_points(group="transformer_lens.architectures")
        if ep.name == "WhisperForConditionalGeneration"
    ]
    assert point.load() is WhisperPluginAdapter
    assert issubclass(WhisperPluginAdapter, WhisperArchitectureAdapter)


def test_transformer_lens_discovers_it_without_a_warning(monkeypatch):
    # as in a fresh process: nothing discovered yet
    monkeypatch.setattr(ArchitectureAdapterFactory, "_entry_points_discovered", False)
    fresh = dict(ArchitectureAdapterFactory._adapters)
    fresh.pop("WhisperForConditionalGeneration", None)
    monkeypatch.setattr(ArchitectureAdapterFactory, "_adapters", fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ArchitectureAdapterFactory.discover_entry_points()
    cfg = TransformerBridgeConfig(
        d_model=32,
        d_head=8,
        n_layers=2,
        n_ctx=64,
        n_heads=4,
        d_vocab=100,
        d_mlp=128,
        architecture="WhisperForConditionalGeneration",
    )
    adapter = ArchitectureAdapterFactory.select_architecture_adapter(cfg)
    assert type(adapter) is WhisperPluginAdapter
    assert adapter.cfg.is_audio_model and adapter.cfg.attn_implementation == HOOKED_ATTENTION


def test_registration_is_idempotent_and_makes_whisper_configs_resolvable():
    # imported here: the SAE tests collect this module under transformer-lens 3.9, which
    # lays its loader out differently
    from transformer_lens.model_bridge.sources._hf_format import (
        determine_architecture_from_hf_config,
    )

    hooked_audio.models.whisper.bridge.register()
    hooked_audio.models.whisper.bridge.register()
    config = transformers.WhisperConfig(architectures=["WhisperForConditionalGeneration"])
    assert determine_architecture_from_hf_config(config) == "WhisperForConditionalGeneration"


def test_an_unknown_config_option_is_refused_by_name():
    config = transformers.WhisperConfig()
    config.some_future_option = 3
    with pytest.raises(ValueError, match="some_future_option=3"):
        check_whisper_config(config, source="test")


def test_options_hf_computes_are_accepted():
    check_whisper_config(
        transformers.WhisperConfig(activation_function="relu", encoder_ffn_dim=100),
        source="test",
    )


def test_another_model_type_is_refused():
    with pytest.raises(ValueError, match="'bart' model"):
        check_whisper_config(transformers.BartConfig(), source="test")
