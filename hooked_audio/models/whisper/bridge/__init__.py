"""Whisper on TransformerLens 4's `TransformerBridge`.

`transformer_lens_whisper`: the architecture adapter as TransformerLens would merge it (the
upstream contribution in upstream/transformer_lens/ links to it). `plugin`: that adapter on an
unmodified TransformerLens 4.3.0, registered through TransformerLens's entry point and, for
4.3.0's static lookup, when hooked_audio is imported (`registration`). `hook_names`: which
Bridge hook holds each HookedWhisper hook. See docs/transformer_lens_bridge.md.
"""

from hooked_audio.models.whisper.bridge.plugin import (
    WHISPER_BRIDGE_OPTIONS,
    WhisperPluginAdapter,
    check_whisper_config,
)
from hooked_audio.models.whisper.bridge.registration import register
from hooked_audio.models.whisper.bridge.transformer_lens_whisper import (
    HOOKED_ATTENTION,
    WhisperArchitectureAdapter,
    WhisperAttentionBridge,
    hooked_eager_attention,
)

__all__ = [
    "HOOKED_ATTENTION",
    "WHISPER_BRIDGE_OPTIONS",
    "WhisperArchitectureAdapter",
    "WhisperAttentionBridge",
    "WhisperPluginAdapter",
    "check_whisper_config",
    "hooked_eager_attention",
    "register",
]
