"""Checks and bookkeeping for an audio LM's HF-style inputs, with errors that say what to do."""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from hooked_audio.constants import MEL_FRAMES_PER_SECOND
from hooked_audio.models.audio_lm.config import HookedAudioLMConfig


def check_input_ids(input_ids: Tensor) -> Int[Tensor, "batch pos"]:
    if not isinstance(input_ids, Tensor):
        raise TypeError(
            f"input_ids must be a tensor of token ids, got {type(input_ids).__name__}; "
            "build inputs with the model's HF processor (`model.prepare_inputs`)."
        )
    if input_ids.ndim == 1:
        input_ids = input_ids[None]
    if input_ids.ndim != 2 or input_ids.is_floating_point():
        raise ValueError(
            f"input_ids must be integer ids of shape (batch, pos); got "
            f"{input_ids.dtype} of shape {tuple(input_ids.shape)}."
        )
    if input_ids.numel() == 0:
        raise ValueError(
            f"input_ids are empty (shape {tuple(input_ids.shape)}); the model needs "
            "at least one token per row: build inputs with `model.prepare_inputs`."
        )
    return input_ids


def check_features(
    cfg: HookedAudioLMConfig, features: Tensor
) -> Float[Tensor, "n_audio n_mels frames"]:
    """A log-mel `[n_audio, n_mels, 2 * audio_n_ctx]` as the HF feature extractor makes it."""
    if not isinstance(features, Tensor) or not features.is_floating_point():
        raise TypeError(
            "input_features must be a float log-mel tensor (n_audio, n_mels, frames), "
            "as the model's HF processor returns it."
        )
    if features.ndim == 2:
        features = features[None]
    expected = (cfg.n_mels, cfg.n_mel_frames)
    if features.ndim != 3 or tuple(features.shape[1:]) != expected:
        hint = ""
        if features.ndim == 3 and features.shape[1] != cfg.n_mels:
            hint = (
                f" This model takes {cfg.n_mels} mel bins, the input has {features.shape[1]}:"
                " use this model's own processor (its feature extractor's feature_size)."
            )
        elif features.ndim == 3:
            hint = (
                f" The audio tower takes windows of exactly {cfg.n_mel_frames} mel frames "
                f"({cfg.n_mel_frames / MEL_FRAMES_PER_SECOND:g} s); "
                "the processor pads shorter clips (pass "
                f"padding='max_length') and "
                f"{'splits' if cfg.arch.splits_long_audio else 'cannot take'} longer ones."
            )
        raise ValueError(
            f"input_features must have shape (n_audio, {expected[0]}, {expected[1]}); "
            f"got {tuple(features.shape)}.{hint}"
        )
    if not torch.isfinite(features).all():
        raise ValueError(
            f"input_features hold {int((~torch.isfinite(features)).sum())} NaN or "
            "infinite values; check the waveform before feature extraction."
        )
    return features


def mel_lengths_of(
    cfg: HookedAudioLMConfig, feature_attention_mask: Tensor | None, n_audio: int
) -> Int[Tensor, " n_audio"] | None:
    """Valid mel frames per clip, from the processor's `feature_attention_mask`."""
    if feature_attention_mask is None:
        return None
    if not cfg.arch.masks_padding:
        raise ValueError(
            f"{cfg.arch.display_name} takes no feature_attention_mask: its "
            "processor pads every clip to whole 30 s windows and the tower attends "
            "to all of them. Drop it."
        )
    expected = (n_audio, cfg.n_mel_frames)
    if tuple(feature_attention_mask.shape) != expected:
        raise ValueError(
            f"feature_attention_mask has shape {tuple(feature_attention_mask.shape)}; "
            f"it must be (n_audio, mel_frames) = {expected}."
        )
    lengths = feature_attention_mask.sum(-1).long()
    if (lengths == 0).any():
        raise ValueError(
            "A clip has no valid mel frames (feature_attention_mask is all zero): "
            "the audio is empty."
        )
    return lengths


def audio_positions(
    cfg: HookedAudioLMConfig, input_ids: Int[Tensor, "batch pos"]
) -> Bool[Tensor, "batch pos"]:
    """True at the positions that hold audio embeddings (the expanded audio placeholders)."""
    return check_input_ids(input_ids) == cfg.audio_token_id


def check_placeholders(
    cfg: HookedAudioLMConfig, input_ids: Tensor, n_embeddings: int | None
) -> None:
    """The prompt must hold exactly one placeholder per audio embedding (none without audio)."""
    n_placeholders = int(audio_positions(cfg, input_ids).sum())
    if n_embeddings is None:
        if n_placeholders:
            raise ValueError(
                f"input_ids hold {n_placeholders} audio placeholder tokens (id "
                f"{cfg.audio_token_id}) but no input_features were given."
            )
        return
    if n_placeholders == 0:
        raise ValueError(
            f"The text has no audio placeholder (token id {cfg.audio_token_id}), so "
            "the audio has nowhere to go. Put the processor's audio token in the "
            "prompt (the chat template does this for an audio content item)."
        )
    if n_placeholders != n_embeddings:
        raise ValueError(
            f"input_ids hold {n_placeholders} audio placeholder tokens but the audio gives "
            f"{n_embeddings} embeddings. The processor must expand each placeholder to its clip's "
            "length (the Qwen2-Audio/Voxtral processors do); a processor for another model or a "
            "hand-written prompt with a single placeholder does not."
        )


def check_vocabulary_fits(cfg: HookedAudioLMConfig, processor) -> None:
    """A processor whose tokenizer has more ids than the model's vocabulary belongs elsewhere."""
    n_tokens = len(processor.tokenizer)
    if n_tokens > cfg.d_vocab:
        raise ValueError(
            f"The processor's tokenizer has {n_tokens} tokens; this model's vocabulary has "
            f"{cfg.d_vocab}, so some ids would index past the embedding. The processor belongs "
            "to another checkpoint."
        )
