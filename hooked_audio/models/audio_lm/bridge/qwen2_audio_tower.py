"""Qwen2-Audio on TransformerBridge with its audio tower hooked layer by layer.

TransformerLens 4.3's `Qwen2AudioArchitectureAdapter` wraps the Whisper-style audio tower and
the projector as opaque components (input and output hooks only). `Qwen2AudioTowerAdapter`
maps the tower as HookedAudioLM hooks it: `conv1`, `conv2`, the encoder layers (`ln1`, `attn`
with per-head q/k/v/z and live score/pattern hooks, `ln2`, `mlp`), `ln_post` after the pooling;
the text model is TransformerLens's own mapping, unchanged.

Qwen2-Audio's architecture name belongs to a native TransformerLens adapter, which an entry
point may not override; `register_qwen2_audio_tower_hooks()` registers this one explicitly
(TransformerLens's documented route for replacing a native adapter).
"""

from __future__ import annotations

import copy
from typing import Any

from transformer_lens.model_bridge.generalized_components import (
    BlockBridge,
    LinearBridge,
    MLPBridge,
    NormalizationBridge,
)
from transformer_lens.model_bridge.generalized_components.base import GeneralizedComponent
from transformer_lens.model_bridge.supported_architectures.qwen2_audio import (
    Qwen2AudioArchitectureAdapter,
)

from hooked_audio.models.whisper.bridge.transformer_lens_whisper import (
    HOOKED_ATTENTION,
    WhisperAttentionBridge,
    register_hooked_attention,
)

ARCHITECTURE = "Qwen2AudioForConditionalGeneration"


class Qwen2AudioTowerAdapter(Qwen2AudioArchitectureAdapter):
    """TransformerLens's Qwen2-Audio adapter with the audio tower's layers hooked."""

    def prepare_model(self, hf_model: Any) -> None:
        """Map the tower from the checkpoint's audio config (its width and heads differ from
        the text model's) and run its attention through the hooked eager attention. The
        mapping is read when the bridge is built, after this."""
        super().prepare_model(hf_model)
        self.components["audio_encoder"] = self._tower(hf_model.config.audio_config)
        register_hooked_attention()
        hf_model.model.audio_tower.set_attn_implementation(HOOKED_ATTENTION)

    def setup_hook_compatibility(self, bridge: Any) -> None:
        """Per-head q/k/v/z in the tower (TransformerBridge sets them up only for its top-level
        block lists; the Qwen2 adapters have no setup of their own to call)."""
        for layer in bridge.audio_encoder.layers:
            layer.attn.setup_hook_compatibility()

    def _tower(self, audio_config: Any) -> GeneralizedComponent:
        tower_cfg = copy.copy(self.cfg)
        tower_cfg.d_model = audio_config.d_model
        tower_cfg.n_heads = audio_config.encoder_attention_heads
        tower_cfg.d_head = audio_config.d_model // audio_config.encoder_attention_heads
        tower_cfg.d_mlp = audio_config.encoder_ffn_dim
        tower_cfg.n_key_value_heads = None
        tower_cfg.normalization_type = "LN"

        def norm(name: str) -> NormalizationBridge:
            return NormalizationBridge(
                name=name, config=tower_cfg, use_native_layernorm_autograd=True
            )

        layers = BlockBridge(
            name="layers",
            hook_alias_overrides={
                "hook_mlp_in": "mlp.in.hook_in",
                "hook_mlp_out": "mlp.out.hook_out",
            },
            submodules={
                "ln1": norm("self_attn_layer_norm"),
                "attn": WhisperAttentionBridge(
                    name="self_attn",
                    config=tower_cfg,
                    submodules={
                        "q": LinearBridge(name="q_proj"),
                        "k": LinearBridge(name="k_proj"),
                        "v": LinearBridge(name="v_proj"),
                        "o": LinearBridge(name="out_proj"),
                    },
                ),
                "ln2": norm("final_layer_norm"),
                "mlp": MLPBridge(
                    name=None,
                    config=tower_cfg,
                    submodules={"in": LinearBridge(name="fc1"), "out": LinearBridge(name="fc2")},
                ),
            },
        )
        # No config on the tower itself: HF reads `audio_tower.config` (its own) for the masks.
        return GeneralizedComponent(
            name="model.audio_tower",
            submodules={
                "conv1": GeneralizedComponent(name="conv1"),
                "conv2": GeneralizedComponent(name="conv2"),
                "layers": layers,
                "ln_post": norm("layer_norm"),
            },
        )


def register_qwen2_audio_tower_hooks() -> None:
    """Make `TransformerBridge.boot_transformers` use `Qwen2AudioTowerAdapter` for Qwen2-Audio
    checkpoints in this process."""
    from transformer_lens.factories.architecture_adapter_factory import (
        ArchitectureAdapterFactory,
    )

    ArchitectureAdapterFactory.register_adapter(ARCHITECTURE, Qwen2AudioTowerAdapter)
