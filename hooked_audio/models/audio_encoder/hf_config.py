"""A HF `Wav2Vec2Config` / `HubertConfig` -> `HookedAudioEncoderConfig`, refusing the options
this model does not implement (each error names the option)."""

from __future__ import annotations

from typing import Any

from hooked_audio.models.audio_encoder.config import (
    ARCHITECTURES,
    FEAT_EXTRACT_NORMS,
    HookedAudioEncoderConfig,
)
from hooked_audio.models.config_options import (
    HF_GENERIC,
    SPEC_AUGMENT,
    TRAINING,
    ConfigOptions,
)
from hooked_audio.models.config_options import (
    check_hf_config as refuse_unknown_options,
)

_NOT_LOADED = (
    "a head or objective this model does not load (pre-training, classification, x-vector)"
)

#: What the wav2vec2 / HuBERT conversion does with each option; any other option that differs
#: from the config class's defaults is refused (`config_options`).
HF_ENCODER_OPTIONS = ConfigOptions(
    family="HookedAudioEncoder",
    handled=frozenset(
        {
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "layer_norm_eps",
            "conv_dim",
            "conv_kernel",
            "conv_stride",
            "conv_bias",
            "num_feat_extract_layers",
            "feat_extract_norm",
            "feat_extract_activation",
            "hidden_act",
            "feat_proj_layer_norm",
            "num_conv_pos_embeddings",
            "num_conv_pos_embedding_groups",
            "do_stable_layer_norm",
            # the CTC head's size is read from its weights
            "vocab_size",
            # refused below when set
            "add_adapter",
            "adapter_attn_dim",
            "conv_pos_batch_norm",
        }
    ),
    ignored={
        **HF_GENERIC,
        **dict.fromkeys(
            (
                "hidden_dropout",
                "activation_dropout",
                "attention_dropout",
                "feat_proj_dropout",
                "feat_quantizer_dropout",
                "final_dropout",
                "layerdrop",
                "initializer_range",
                *SPEC_AUGMENT,
            ),
            TRAINING,
        ),
        **dict.fromkeys(
            (
                "num_codevectors_per_group",
                "num_codevector_groups",
                "contrastive_logits_temperature",
                "num_negatives",
                "codevector_dim",
                "proj_codevector_dim",
                "diversity_loss_weight",
                "ctc_loss_reduction",
                "ctc_zero_infinity",
                "use_weighted_layer_sum",
                "classifier_proj_size",
                "tdnn_dim",
                "tdnn_kernel",
                "tdnn_dilation",
                "xvector_output_dim",
            ),
            _NOT_LOADED,
        ),
        **dict.fromkeys(
            ("adapter_kernel_size", "adapter_stride", "num_adapter_layers", "output_hidden_size"),
            "the conv adapter's sizes; the adapter itself (add_adapter) is refused",
        ),
    },
)


def _refuse(option: str, value: Any, why: str) -> None:
    raise ValueError(f"Unsupported checkpoint: config.{option}={value!r}. {why}")


def check_hf_config(config: Any) -> None:
    """Raise a `ValueError` naming the options outside what `HookedAudioEncoder` runs: any
    option neither implemented nor known to be irrelevant, then the values of those it reads."""
    if config.model_type not in ARCHITECTURES:
        _refuse(
            "model_type",
            config.model_type,
            f"HookedAudioEncoder implements {ARCHITECTURES} only (not Conformer, WavLM, "
            "Data2Vec or other relatives, whose blocks differ).",
        )
    refuse_unknown_options(config, HF_ENCODER_OPTIONS)
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
