"""A HF `Wav2Vec2Config` / `HubertConfig` -> `HookedAudioEncoderConfig`, refusing the options
this model does not implement (each error names the option)."""

from __future__ import annotations

from typing import Any

from hooked_audio.models.audio_encoder.config import (
    ARCHITECTURES,
    FEAT_EXTRACT_NORMS,
    HookedAudioEncoderConfig,
)


def _refuse(option: str, value: Any, why: str) -> None:
    raise ValueError(f"Unsupported checkpoint: config.{option}={value!r}. {why}")


def check_hf_config(config: Any) -> None:
    """Raise a `ValueError` naming the first option outside what `HookedAudioEncoder` runs."""
    if config.model_type not in ARCHITECTURES:
        _refuse(
            "model_type",
            config.model_type,
            f"HookedAudioEncoder implements {ARCHITECTURES} only (not Conformer, WavLM, "
            "Data2Vec or other relatives, whose blocks differ).",
        )
    if config.feat_extract_norm not in FEAT_EXTRACT_NORMS:
        _refuse(
            "feat_extract_norm",
            config.feat_extract_norm,
            f"Known conv-stack norms: {FEAT_EXTRACT_NORMS}.",
        )
    for option in ("feat_extract_activation", "hidden_act"):
        if getattr(config, option) != "gelu":
            _refuse(
                option,
                getattr(config, option),
                "Only the exact (erf) GELU, 'gelu', is implemented.",
            )
    if getattr(config, "add_adapter", False):
        _refuse(
            "add_adapter",
            True,
            "The conv adapter after the encoder is not implemented; use a checkpoint without it.",
        )
    if getattr(config, "adapter_attn_dim", None) is not None:
        _refuse(
            "adapter_attn_dim",
            config.adapter_attn_dim,
            "Per-language attention adapters (MMS) are not implemented.",
        )
    if getattr(config, "conv_pos_batch_norm", False):
        _refuse(
            "conv_pos_batch_norm",
            True,
            "A batch-normalised positional convolution is not "
            "implemented (only the weight-normalised one).",
        )
    n_layers = config.num_feat_extract_layers
    if not len(config.conv_dim) == len(config.conv_kernel) == len(config.conv_stride) == n_layers:
        _refuse(
            "num_feat_extract_layers",
            n_layers,
            "conv_dim, conv_kernel and conv_stride must have that many entries each.",
        )


def config_from_hf(config: Any, vocab_size: int | None = None) -> HookedAudioEncoderConfig:
    """The `HookedAudioEncoderConfig` of a HF wav2vec2 / HuBERT config; `vocab_size` is the CTC
    head's vocabulary (None: no head)."""
    check_hf_config(config)
    return HookedAudioEncoderConfig(
        architecture=config.model_type,
        d_model=config.hidden_size,
        n_layers=config.num_hidden_layers,
        n_heads=config.num_attention_heads,
        d_mlp=config.intermediate_size,
        eps=config.layer_norm_eps,
        conv_dim=tuple(config.conv_dim),
        conv_kernel=tuple(config.conv_kernel),
        conv_stride=tuple(config.conv_stride),
        conv_bias=bool(config.conv_bias),
        feat_extract_norm=config.feat_extract_norm,
        feat_proj_layer_norm=bool(getattr(config, "feat_proj_layer_norm", True)),
        num_conv_pos_embeddings=config.num_conv_pos_embeddings,
        num_conv_pos_embedding_groups=config.num_conv_pos_embedding_groups,
        do_stable_layer_norm=bool(config.do_stable_layer_norm),
        vocab_size=vocab_size,
    )
