"""Hooked OpenAI Whisper: model, loaders, stream views, word cells, cross-attention patching."""

from hooked_audio.models.whisper.config import HookedWhisperConfig
from hooked_audio.models.whisper.cross_attention_patching import (
    audio_to_cross_heads,
    cross_attention_head_sweep,
)
from hooked_audio.models.whisper.decoder_cache import WhisperDecoderCache
from hooked_audio.models.whisper.model import HookedWhisper
from hooked_audio.models.whisper.pair_answer import answer_from_transcripts
from hooked_audio.models.whisper.streams import WhisperDecoderStream, WhisperEncoderStream
from hooked_audio.models.whisper.word_cells import word_cells

__all__ = [
    "HookedWhisper",
    "HookedWhisperConfig",
    "WhisperDecoderCache",
    "WhisperDecoderStream",
    "WhisperEncoderStream",
    "answer_from_transcripts",
    "audio_to_cross_heads",
    "cross_attention_head_sweep",
    "word_cells",
]
