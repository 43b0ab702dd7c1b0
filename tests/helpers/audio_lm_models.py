"""Tiny random HF audio LMs (Qwen2-Audio, Voxtral) and their HookedAudioLM twins, for tests.

Weights are redrawn with std 0.1 (norm weights around 1) so that every term matters in a
parity check; HF's own init (std 0.02) leaves logits nearly flat.
"""

from __future__ import annotations

import torch
from transformers import (
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    VoxtralConfig,
    VoxtralForConditionalGeneration,
)

from hooked_audio.models.audio_lm import HookedAudioLM

AUDIO_TOKEN = 100
VOCAB = 120
AUDIO_CTX = 40  # 20 ms positions per window: 80 mel frames (0.8 s) per clip
N_MELS = 16


def _redraw(model: torch.nn.Module, seed: int, std: float = 0.1) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "embed_positions" in name:
                continue  # Whisper-style towers keep their sinusoid-like table
            centre = 1.0 if "norm" in name and name.endswith("weight") else 0.0
            param.copy_(centre + std * torch.randn(param.shape, generator=generator))


def qwen2_audio_hf(
    seed: int = 0,
    n_heads: int = 6,
    n_kv_heads: int = 2,
    d_model: int = 48,
    n_layers: int = 2,
    audio_layers: int = 2,
    audio_ctx: int = AUDIO_CTX,
) -> Qwen2AudioForConditionalGeneration:
    config = Qwen2AudioConfig(
        audio_config=dict(
            d_model=32,
            encoder_layers=audio_layers,
            encoder_attention_heads=4,
            encoder_ffn_dim=48,
            num_mel_bins=N_MELS,
            max_source_positions=audio_ctx,
        ),
        text_config=dict(
            model_type="qwen2",
            hidden_size=d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            num_key_value_heads=n_kv_heads,
            intermediate_size=64,
            vocab_size=VOCAB,
        ),
        audio_token_index=AUDIO_TOKEN,
    )
    model = Qwen2AudioForConditionalGeneration(config).eval()
    _redraw(model, seed)
    return model


def voxtral_hf(
    seed: int = 0, head_dim: int = 12, vocab_size: int = VOCAB, audio_token_id: int = AUDIO_TOKEN
) -> VoxtralForConditionalGeneration:
    config = VoxtralConfig(
        audio_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            num_mel_bins=N_MELS,
            max_source_positions=AUDIO_CTX,
        ),
        text_config=dict(
            model_type="llama",
            hidden_size=48,
            num_hidden_layers=2,
            num_attention_heads=6,
            num_key_value_heads=2,
            intermediate_size=64,
            vocab_size=vocab_size,
            head_dim=head_dim,
        ),
        audio_token_id=audio_token_id,
    )
    model = VoxtralForConditionalGeneration(config).eval()
    _redraw(model, seed)
    return model


def qwen2_audio_inputs(
    mel_lengths: list[int], text_lengths: list[int], seed: int = 0, left_pad: bool = True
) -> dict[str, torch.Tensor]:
    """HF-style inputs: one clip per prompt, `mel_lengths[i]` valid mel frames (of 80), the
    placeholders expanded as the processor does, `text_lengths[i]` text tokens around them,
    rows padded to one length (on the left by default, as for generation)."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(len(mel_lengths), N_MELS, 2 * AUDIO_CTX, generator=generator)
    feature_mask = torch.zeros(len(mel_lengths), 2 * AUDIO_CTX, dtype=torch.long)
    rows = []
    for i, (n_mel, n_text) in enumerate(zip(mel_lengths, text_lengths)):
        feature_mask[i, :n_mel] = 1
        features[i, :, n_mel:] = 0.0
        n_audio = ((n_mel - 1) // 2 + 1 - 2) // 2 + 1
        text = torch.randint(0, AUDIO_TOKEN, (n_text,), generator=generator)
        rows.append(torch.cat([text[:2], torch.full((n_audio,), AUDIO_TOKEN), text[2:]]))
    width = max(len(r) for r in rows)
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        where = slice(width - len(row), width) if left_pad else slice(0, len(row))
        input_ids[i, where], attention_mask[i, where] = row, 1
    return dict(
        input_ids=input_ids,
        input_features=features,
        attention_mask=attention_mask,
        feature_attention_mask=feature_mask,
    )


def voxtral_inputs(n_text: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    """One 0.8 s window (10 audio embeddings of 80 ms) inside `n_text` text tokens."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(1, N_MELS, 2 * AUDIO_CTX, generator=generator)
    text = torch.randint(0, AUDIO_TOKEN, (n_text,), generator=generator)
    n_audio = AUDIO_CTX // 4
    input_ids = torch.cat([text[:2], torch.full((n_audio,), AUDIO_TOKEN), text[2:]])[None]
    return dict(input_ids=input_ids, input_features=features)


def hooked(hf_model: torch.nn.Module) -> HookedAudioLM:
    return HookedAudioLM.from_hf(hf_model)


#: audio-tower positions of `timed_processor`'s 3 s windows (20 ms each)
STUDY_AUDIO_CTX = 150


def audio_lm_checkpoint(folder, seed: int = 0):
    """A tiny random Qwen2-Audio checkpoint folder with the timed processor (20 ms positions,
    3 s windows), as `hooked-audio study --model` loads it."""
    from tests.helpers.audio_lm_processor import timed_processor

    qwen2_audio_hf(seed=seed, audio_ctx=STUDY_AUDIO_CTX).save_pretrained(str(folder))
    timed_processor().save_pretrained(str(folder))
    return folder
