"""A tiny random HF Whisper, saved as a folder TransformerLens's loader reads (no hub)."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

#: a 2-layer, 2-head, 16-wide Whisper with 8 mel bins and a 20-frame window
TINY = dict(
    vocab_size=64,
    num_mel_bins=8,
    d_model=16,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_source_positions=10,
    max_target_positions=12,
    decoder_start_token_id=1,
    pad_token_id=0,
    bos_token_id=0,
    eos_token_id=0,
    init_std=0.3,  # weights large enough that an edit to one head moves the logits
)


def tiny_hf_whisper(seed: int = 0, **overrides) -> transformers.WhisperForConditionalGeneration:
    """Random weights, eager attention, eval mode; encoder positions sinusoidal as in Whisper."""
    config = transformers.WhisperConfig(**{**TINY, **overrides})
    config.architectures = ["WhisperForConditionalGeneration"]
    torch.manual_seed(seed)
    model = transformers.WhisperForConditionalGeneration(config)
    model.set_attn_implementation("eager")
    return model.eval()


def save_tiny_folder(folder: Path, **overrides) -> Path:
    """`tiny_hf_whisper(**overrides)` as a HF folder with Whisper's feature extractor settings."""
    tiny_hf_whisper(**overrides).save_pretrained(folder)
    n_mels = overrides.get("num_mel_bins", TINY["num_mel_bins"])
    transformers.WhisperFeatureExtractor(feature_size=n_mels).save_pretrained(folder)
    return folder


def tiny_inputs(batch: int = 1, seed: int = 1, **overrides) -> tuple[torch.Tensor, torch.Tensor]:
    """A random log-mel `[batch, n_mels, 2 * max_source_positions]` and decoder tokens."""
    settings = {**TINY, **overrides}
    generator = torch.Generator().manual_seed(seed)
    mel = torch.randn(
        batch, settings["num_mel_bins"], 2 * settings["max_source_positions"], generator=generator
    )
    tokens = torch.randint(2, settings["vocab_size"], (batch, 5), generator=generator)
    tokens[:, 0] = settings["decoder_start_token_id"]
    return mel, tokens
