"""Configuration of a `HookedAudioLM`: the audio tower, the projector and the language model.

`cfg.lm` (also `model.cfg`) and `cfg.audio` are TransformerLens configs, one per stack: what
`ActivationCache` and `transformer_lens.patching` read through the stream views. `cfg.arch` is
the registered `AudioLMArchitecture` of `cfg.architecture` (see `architectures.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformer_lens.config import TransformerLensConfig

from hooked_audio.constants import MEL_FRAMES_PER_POSITION, SECONDS_PER_POSITION
from hooked_audio.models.audio_lm.architectures import (
    ARCHITECTURES,
    AudioLMArchitecture,
    get_architecture,
)
from hooked_audio.models.config_options import (
    HF_GENERIC,
    TRAINING,
    ConfigOptions,
    flat_options,
)

#: The HF options every audio-LM architecture reads (`from_hf_config`); an architecture adds
#: its own (`AudioLMArchitecture.hf_options`). Any other option that differs from the config
#: class's defaults is refused: e.g. a RoPE scaling type (`rope_parameters.rope_type` linear,
#: yarn, llama3) would otherwise load as plain RoPE and change every activation.
AUDIO_LM_OPTIONS = ConfigOptions(
    family="HookedAudioLM",
    handled=frozenset(
        {
            "audio_token_id",
            "audio_token_index",
            # the audio tower (Qwen2-Audio's names, then Voxtral's)
            "audio_config.num_mel_bins",
            "audio_config.max_source_positions",
            "audio_config.d_model",
            "audio_config.encoder_layers",
            "audio_config.encoder_attention_heads",
            "audio_config.encoder_ffn_dim",
            "audio_config.hidden_size",
            "audio_config.num_hidden_layers",
            "audio_config.num_attention_heads",
            # the language model
            "text_config.vocab_size",
            "text_config.hidden_size",
            "text_config.intermediate_size",
            "text_config.num_hidden_layers",
            "text_config.num_attention_heads",
            "text_config.num_key_value_heads",
            "text_config.head_dim",
            "text_config.hidden_act",
            "text_config.max_position_embeddings",
            "text_config.rms_norm_eps",
            "text_config.tie_word_embeddings",
            "text_config.pad_token_id",
            "text_config.rope_theta",
            "text_config.rope_parameters.rope_theta",
            # checked: every layer must be full attention
            "text_config.layer_types",
        }
    ),
    ignored={
        **HF_GENERIC,
        **dict.fromkeys(
            (
                "dropout",
                "attention_dropout",
                "activation_dropout",
                "encoder_layerdrop",
                "layerdrop",
                "initializer_range",
                "init_std",
            ),
            TRAINING,
        ),
        **dict.fromkeys(
            ("use_sliding_window", "sliding_window", "max_window_layers"),
            "read through text_config.layer_types, which must be all full attention",
        ),
        "pretraining_tp": "splits the same matrix products across devices in pre-training",
        "audio_config.vocab_size": "the audio tower has no token vocabulary",
    },
)


@dataclass
class HookedAudioLMConfig:
    """Dimensions of an audio LM, in the terms of its parts.

    `architecture`: a registered architecture's model type (`"qwen2_audio"`, `"voxtral"`).
    Audio tower (Whisper-style): `n_mels`, `audio_d_model`, `audio_n_layers`, `audio_n_heads`,
    `audio_d_mlp`, `audio_n_ctx` (20 ms positions per 30 s window, 1500). Between tower and
    language model: `audio_pool` (average pooling of adjacent frames: 2 for Qwen2-Audio, 1 for
    Voxtral), then the projector: `"linear"` (Qwen2-Audio) or `"stack"` (Voxtral: concatenate
    `projector_stack` consecutive frames, then linear, activation, linear).
    Language model (Qwen2 / Llama): the usual TransformerLens names.
    """

    architecture: str
    n_mels: int
    audio_d_model: int
    audio_n_layers: int
    audio_n_heads: int
    audio_d_mlp: int
    audio_n_ctx: int
    audio_pool: int
    projector: str
    d_model: int
    n_layers: int
    n_heads: int
    n_key_value_heads: int
    d_head: int
    d_mlp: int
    d_vocab: int
    n_ctx: int
    audio_token_id: int
    projector_stack: int = 1
    projector_act: str = "gelu"
    act_fn: str = "silu"
    eps: float = 1e-6
    rope_base: float = 10000.0
    qkv_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    pad_token_id: int | None = None
    use_attn_result: bool = False
    dtype: torch.dtype = torch.float32
    lm: TransformerLensConfig = field(init=False)
    audio: TransformerLensConfig = field(init=False)
    #: the registered architecture object of `architecture`, looked up once
    arch: AudioLMArchitecture = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.arch = get_architecture(self.architecture)
        if self.projector not in ("linear", "stack"):
            raise ValueError(f"Unknown projector {self.projector!r}: 'linear' or 'stack'.")
        self.lm = TransformerLensConfig(
            d_model=self.d_model,
            d_head=self.d_head,
            n_layers=self.n_layers,
            n_ctx=self.n_ctx,
            n_heads=self.n_heads,
            n_key_value_heads=self.n_key_value_heads,
            d_mlp=self.d_mlp,
            d_vocab=self.d_vocab,
            device="cpu",
            use_attn_result=self.use_attn_result,
            positional_embedding_type="rotary",
            act_fn=self.act_fn,
            gated_mlp=True,
            normalization_type="RMS",
            uses_rms_norm=True,
            final_rms=True,
            eps=self.eps,
            default_prepend_bos=False,
            dtype=self.dtype,
        )
        self.audio = TransformerLensConfig(
            d_model=self.audio_d_model,
            d_head=self.audio_d_model // self.audio_n_heads,
            n_layers=self.audio_n_layers,
            n_ctx=self.audio_n_ctx,
            n_heads=self.audio_n_heads,
            d_mlp=self.audio_d_mlp,
            d_vocab=-1,
            device="cpu",
            use_attn_result=self.use_attn_result,
            positional_embedding_type="sinusoidal",
            act_fn="gelu",
            normalization_type="LN",
            eps=1e-5,
            dtype=self.dtype,
        )

    @property
    def n_mel_frames(self) -> int:
        """Log-mel frames (10 ms) per audio window: 3000 for 30 s."""
        return MEL_FRAMES_PER_POSITION * self.audio_n_ctx

    @property
    def seconds_per_audio_token(self) -> float:
        """Audio covered by one language-model audio position: 40 ms (Qwen2-Audio), 80 ms
        (Voxtral)."""
        return SECONDS_PER_POSITION * self.audio_pool * self.projector_stack

    @property
    def audio_tokens_per_window(self) -> int:
        return self.audio_n_ctx // self.audio_pool // self.projector_stack

    @classmethod
    def from_hf_config(cls, config: Any, **kwargs: Any) -> HookedAudioLMConfig:
        """From a HF config of a registered architecture (`Qwen2AudioConfig`,
        `VoxtralConfig`)."""
        model_type = getattr(config, "model_type", None)
        arch = ARCHITECTURES.get(model_type)
        if arch is None:
            raise ValueError(
                f"HF model type {model_type!r} is not supported; HookedAudioLM "
                f"loads {', '.join(ARCHITECTURES)}."
            )
        options = ConfigOptions(
            AUDIO_LM_OPTIONS.family,
            AUDIO_LM_OPTIONS.handled | arch.hf_options,
            AUDIO_LM_OPTIONS.ignored,
        )
        options.check(
            flat_options(config),
            flat_options(type(config)()),
            f"{arch.display_name} config {getattr(config, '_name_or_path', '') or ''}".strip(),
        )
        audio, text = config.audio_config, config.text_config
        layer_types = getattr(text, "layer_types", None) or []
        if any(t != "full_attention" for t in layer_types):
            raise ValueError(
                f"Sliding-window attention layers ({set(layer_types)}) are not "
                "supported; the released Qwen2-Audio and Voxtral do not use them."
            )
        rope = getattr(text, "rope_parameters", None) or {}
        common = dict(
            architecture=model_type,
            n_mels=audio.num_mel_bins,
            audio_d_model=audio.hidden_size,
            audio_n_layers=audio.num_hidden_layers,
            audio_n_heads=audio.num_attention_heads,
            audio_d_mlp=audio.intermediate_size,
            audio_n_ctx=audio.max_source_positions,
            d_model=text.hidden_size,
            n_layers=text.num_hidden_layers,
            n_heads=text.num_attention_heads,
            n_key_value_heads=text.num_key_value_heads,
            d_head=getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads,
            d_mlp=text.intermediate_size,
            d_vocab=text.vocab_size,
            n_ctx=text.max_position_embeddings,
            act_fn=text.hidden_act,
            eps=text.rms_norm_eps,
            rope_base=float(rope.get("rope_theta", getattr(text, "rope_theta", 10000.0))),
            tie_word_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
            pad_token_id=getattr(text, "pad_token_id", None),
            audio_token_id=config.audio_token_id,
        )
        return cls(**common, **arch.config_fields(config), **kwargs)
