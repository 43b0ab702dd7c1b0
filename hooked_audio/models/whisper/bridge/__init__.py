"""Whisper on TransformerLens 4's `TransformerBridge`: the architecture adapter hooked_audio
registers with TransformerLens, so `TransformerBridge.boot_transformers(hf_whisper_folder)`
returns a hooked Whisper. See docs/transformer_lens_bridge.md."""

from hooked_audio.models.whisper.bridge.adapter import (
    WHISPER_BRIDGE_OPTIONS,
    WhisperArchitectureAdapter,
    check_whisper_config,
)
from hooked_audio.models.whisper.bridge.attention import (
    ATTENTION_IMPLEMENTATION,
    WhisperAttentionBridge,
    hooked_eager_attention,
)
from hooked_audio.models.whisper.bridge.registration import register

__all__ = [
    "ATTENTION_IMPLEMENTATION",
    "WHISPER_BRIDGE_OPTIONS",
    "WhisperArchitectureAdapter",
    "WhisperAttentionBridge",
    "check_whisper_config",
    "hooked_eager_attention",
    "register",
]
