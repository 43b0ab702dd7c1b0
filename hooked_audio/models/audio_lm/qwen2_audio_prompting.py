"""Qwen2-Audio's side of `check_processor`: HF's `Qwen2AudioProcessor` (a Whisper feature
extractor and a Qwen2 tokenizer whose `<|AUDIO|>` placeholder the processor expands to each
clip's length)."""

from __future__ import annotations

from typing import Any

FIX = "Use the processor of the checkpoint the weights came from."


def check_qwen2_audio_processor(cfg: Any, processor: Any) -> None:
    """The feature extractor makes the model's mel bins and window, and the processor's audio
    placeholder is the model's `audio_token_id`."""
    features = processor.feature_extractor
    if features.feature_size != cfg.n_mels:
        raise ValueError(
            f"The processor's feature extractor makes {features.feature_size} mel bins; this model "
            f"takes {cfg.n_mels}. {FIX}"
        )
    if features.nb_max_frames != cfg.n_mel_frames:
        raise ValueError(
            f"The processor's feature extractor pads to {features.nb_max_frames} mel frames; this "
            f"model's audio tower takes windows of {cfg.n_mel_frames}. {FIX}"
        )
    token_id = getattr(processor, "audio_token_id", None)
    if token_id != cfg.audio_token_id:
        raise ValueError(
            f"The processor's audio placeholder {getattr(processor, 'audio_token', None)!r} has id "
            f"{token_id}; this model puts audio at token id {cfg.audio_token_id}. The processor "
            "belongs to another checkpoint."
        )
