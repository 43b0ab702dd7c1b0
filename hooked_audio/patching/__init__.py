"""Activation patching on audio frames: stream views that let TransformerLens's own patching
and `ActivationCache` helpers run on each stack of a hooked audio model."""

from hooked_audio.patching.audio_lm_streams import AudioLMStream, AudioTowerStream
from hooked_audio.patching.attribution import resid_pre_attribution, resid_pre_attribution_graddrop
from hooked_audio.patching.attribution_qk import resid_pre_attribution_qk
from hooked_audio.patching.decoder_cache import WhisperDecoderCache
from hooked_audio.patching.directions import DIRECTIONS, Direction
from hooked_audio.patching.fast_sweep import LAYER_ACTS, layer_sweep, resid_pre_sweep
from hooked_audio.patching.head_sweep import cross_attention_head_sweep, head_sweep
from hooked_audio.patching.path_patching import (
    Sender,
    audio_to_cross_heads,
    direct_path,
    direct_path_head_sweep,
)
from hooked_audio.patching import time_cells
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.patching.stream_view import StreamView
from hooked_audio.patching.whisper_streams import WhisperDecoderStream, WhisperEncoderStream

__all__ = [
    "AudioLMStream",
    "AudioTowerStream",
    "Sender",
    "audio_to_cross_heads",
    "direct_path",
    "direct_path_head_sweep",
    "DIRECTIONS",
    "Direction",
    "SweepResult",
    "cross_attention_head_sweep",
    "head_sweep",
    "resid_pre_attribution",
    "resid_pre_attribution_graddrop",
    "resid_pre_attribution_qk",
    "LAYER_ACTS",
    "layer_sweep",
    "resid_pre_sweep",
    "time_cells","StreamView", "WhisperDecoderCache", "WhisperDecoderStream", "WhisperEncoderStream"]
