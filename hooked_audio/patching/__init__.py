"""Activation patching on audio frames: stream views that let TransformerLens's own patching
and `ActivationCache` helpers run on each stack of a hooked audio model."""

from hooked_audio.patching.decoder_cache import WhisperDecoderCache
from hooked_audio.patching.stream_view import StreamView
from hooked_audio.patching.whisper_streams import WhisperDecoderStream, WhisperEncoderStream

__all__ = ["StreamView", "WhisperDecoderCache", "WhisperDecoderStream", "WhisperEncoderStream"]
