"""Qwen2-Audio on TransformerBridge with the audio tower hooked layer by layer: the logits are
HF's, every tower hook HookedAudioLM has holds the same activation on the Bridge, and the
tower's pattern hooks are live."""

from __future__ import annotations

import pytest
import torch
from transformer_lens.factories.architecture_adapter_factory import ArchitectureAdapterFactory
from transformer_lens.model_bridge import TransformerBridge

from hooked_audio.models.audio_lm import HookedAudioLM
from hooked_audio.models.audio_lm.bridge import (
    Qwen2AudioTowerAdapter,
    register_qwen2_audio_tower_hooks,
)
from tests.helpers.audio_lm_models import qwen2_audio_hf, qwen2_audio_inputs
from tests.helpers.audio_lm_processor import tiny_processor


def bridge_name(hooked_name: str) -> str:
    """The Bridge hook holding HookedAudioLM's tower hook `hooked_name`."""
    name = hooked_name.replace("audio_encoder.blocks.", "audio_encoder.layers.")
    name = name.replace("hook_normalized", "hook_out")  # after the norm's weight and bias
    return {
        "audio_encoder.hook_conv1": "audio_encoder.conv1.hook_out",
        "audio_encoder.hook_conv2": "audio_encoder.conv2.hook_out",
        "audio_encoder.hook_pooled": "audio_encoder.ln_post.hook_in",
    }.get(name, name)


def hooked_layout(hooked_name: str, value: torch.Tensor) -> torch.Tensor:
    """The convolutions' outputs: the Bridge sees them before the inline GELU, channels first."""
    if hooked_name.endswith(("hook_conv1", "hook_conv2")):
        return torch.nn.functional.gelu(value).transpose(1, 2)
    return value


@pytest.fixture(scope="module")
def hf():
    return qwen2_audio_hf()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory, hf):
    folder = tmp_path_factory.mktemp("qwen2_audio")
    hf.save_pretrained(folder)
    tiny_processor().save_pretrained(folder)  # else TransformerLens pip-installs torchvision
    previous = ArchitectureAdapterFactory._adapters["Qwen2AudioForConditionalGeneration"]
    register_qwen2_audio_tower_hooks()
    try:
        yield TransformerBridge.boot_transformers(str(folder), device="cpu")
    finally:
        ArchitectureAdapterFactory.register_adapter("Qwen2AudioForConditionalGeneration", previous)


def _call(model, inputs, **kwargs):
    return model.run_with_cache(
        inputs["input_ids"],
        input_features=inputs["input_features"],
        attention_mask=inputs["attention_mask"],
        feature_attention_mask=inputs["feature_attention_mask"],
        **kwargs,
    )


def test_logits_equal_hf_and_tower_hooks_equal_hooked_audio_lm(bridge, hf):
    assert type(bridge.adapter) is Qwen2AudioTowerAdapter
    inputs = qwen2_audio_inputs([80], [6])
    hooked = HookedAudioLM.from_hf(hf)
    with torch.no_grad():
        logits, cache = _call(bridge, inputs)
        expected = hf(**inputs).logits
        _, hooked_cache = hooked.run_with_cache(**inputs)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    # every tower hook but the positions (HF adds `embed_positions.weight` without calling the
    # module, so the Bridge has nothing to hook): stem, pooling, final norm, 17 per layer
    tower = [
        name
        for name in hooked_cache
        if name.startswith("audio_encoder.") and name != "audio_encoder.hook_pos_embed"
    ]
    assert len(tower) == 5 + 2 * 17
    for name in tower:
        got = hooked_layout(name, cache[bridge_name(name)])
        want = hooked_cache[name]
        scale = want.abs().max().clamp_min(1e-6)
        assert (got - want).abs().max() / scale < 1e-5, name


def test_tower_attention_hooks_are_live(bridge):
    inputs = qwen2_audio_inputs([80], [6])

    def uniform(pattern, hook):
        return torch.full_like(pattern, 1.0 / pattern.shape[-1])

    with torch.no_grad():
        clean, _ = _call(bridge, inputs, names_filter=[])
        edited = bridge.run_with_hooks(
            inputs["input_ids"],
            input_features=inputs["input_features"],
            attention_mask=inputs["attention_mask"],
            feature_attention_mask=inputs["feature_attention_mask"],
            fwd_hooks=[("audio_encoder.layers.0.attn.hook_pattern", uniform)],
        )
    assert (edited - clean).abs().max() > 1e-3
