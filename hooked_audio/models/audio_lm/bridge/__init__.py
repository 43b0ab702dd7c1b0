"""Audio LMs on TransformerLens 4's `TransformerBridge`: Qwen2-Audio with its audio tower hooked
layer by layer (`register_qwen2_audio_tower_hooks`). See docs/transformer_lens_bridge.md."""

from hooked_audio.models.audio_lm.bridge.qwen2_audio_tower import (
    Qwen2AudioTowerAdapter,
    register_qwen2_audio_tower_hooks,
)

__all__ = ["Qwen2AudioTowerAdapter", "register_qwen2_audio_tower_hooks"]
