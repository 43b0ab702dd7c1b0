"""`WhisperArchitectureAdapter`: HF `WhisperForConditionalGeneration` on TransformerLens 4's
`TransformerBridge`.

Whisper is a pre-LN BART-family encoder-decoder whose encoder embeds a log-mel spectrogram
with two convolutions instead of looking up tokens, adds fixed sinusoidal positions, and whose
output projection is tied to the token embedding. The mapping follows TransformerLens's BART
family (`encoder_blocks`, `decoder_blocks` with `self_attn` and `cross_attn`, `ln1`-`ln3`,
per-stack final norms) so Bridge users find the names they know; the audio front end is
`conv1`, `conv2` and `pos_embed`.

Calling convention (the Bridge's audio path): `bridge(mel, decoder_input_ids=tokens)` with
`mel` the `[batch, n_mels, 3000]` log-mel (`input_features` in HF) and `tokens` the decoder
tokens; `run_with_cache`/`run_with_hooks` take the same arguments.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import torch
from transformer_lens.model_bridge.generalized_components import (
    EmbeddingBridge,
    PosEmbedBridge,
    UnembeddingBridge,
)
from transformer_lens.model_bridge.generalized_components.base import GeneralizedComponent
from transformer_lens.model_bridge.supported_architectures.bart import (
    BartFamilyArchitectureAdapter,
)

from hooked_audio.models.config_options import ConfigOptions, check_hf_config
from hooked_audio.models.whisper.bridge.attention import (
    ATTENTION_IMPLEMENTATION,
    WhisperAttentionBridge,
)
from hooked_audio.models.whisper.bridge.inputs import checked_forward
from hooked_audio.models.whisper.loading.huggingface import HF_WHISPER_OPTIONS

logger = logging.getLogger(__name__)

#: What the Bridge does with each `WhisperConfig` option: HF's own modules compute every
#: layer, so the architecture options HookedWhisper checks by value (activation, MLP widths)
#: are all represented here; anything else that differs from WhisperConfig's defaults is refused.
WHISPER_BRIDGE_OPTIONS = ConfigOptions(
    family="the TransformerBridge Whisper adapter",
    handled=HF_WHISPER_OPTIONS.handled,
    ignored=HF_WHISPER_OPTIONS.ignored,
)

#: attention implementations that compute the same attention as HF's eager code (so switching
#: them to the hooked eager attention changes kernels, not the model)
_SAME_ATTENTION = {None, "eager", "sdpa", "flash_attention_2", "flash_attention_3"}


class WhisperArchitectureAdapter(BartFamilyArchitectureAdapter):
    """Architecture adapter for `WhisperForConditionalGeneration` (all openai-whisper sizes,
    distil-whisper, large-v3-turbo: encoder and decoder depths may differ)."""

    supports_generation = False  # the Bridge's text generate() feeds no audio
    require_symmetric_layers = False
    n_layers_from = "encoder"
    force_scale_embedding = False
    has_layernorm_embedding = False
    has_final_stack_norm = True

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.cfg.is_audio_model = True
        self.cfg.attn_implementation = ATTENTION_IMPLEMENTATION
        # The final norms sit outside TransformerLens's LN folding, as in the BART family.
        self.supports_fold_ln = False

    def _attention(self, name: str, *, is_cross_attention: bool = False) -> WhisperAttentionBridge:
        from transformer_lens.model_bridge.generalized_components import LinearBridge

        return WhisperAttentionBridge(
            name=name,
            config=self.cfg,
            submodules={
                "q": LinearBridge(name="q_proj"),
                "k": LinearBridge(name="k_proj"),
                "v": LinearBridge(name="v_proj"),
                "o": LinearBridge(name="out_proj"),
            },
            is_cross_attention=is_cross_attention,
        )

    def _build_component_mapping(self) -> dict[str, GeneralizedComponent]:
        return {
            "conv1": GeneralizedComponent(name="model.encoder.conv1"),
            "conv2": GeneralizedComponent(name="model.encoder.conv2"),
            "pos_embed": PosEmbedBridge(name="model.encoder.embed_positions"),
            "encoder_blocks": self._encoder_block(),
            "encoder_ln_final": self._norm("model.encoder.layer_norm"),
            "decoder_embed": EmbeddingBridge(name="model.decoder.embed_tokens"),
            "decoder_pos_embed": PosEmbedBridge(name="model.decoder.embed_positions"),
            "decoder_blocks": self._decoder_block(),
            "decoder_ln_final": self._norm("model.decoder.layer_norm"),
            "unembed": UnembeddingBridge(name="proj_out"),
        }

    def prepare_loading(self, model_name: str, model_kwargs: dict) -> None:
        """Refuse, by name, a checkpoint option this adapter does not represent, before any
        weight is read; make sure transformers' auto class can build Whisper."""
        config = model_kwargs.get("config")
        if config is not None:
            check_whisper_config(config, source=str(model_name))
        _let_seq2seq_auto_class_build_whisper()

    def prepare_model(self, hf_model: Any) -> None:
        """Switch attention to the hooked eager attention, and let the Bridge's audio call
        (`input_values=`) reach Whisper's `input_features`."""
        check_whisper_config(hf_model.config, source=type(hf_model).__name__)
        current = getattr(hf_model.config, "_attn_implementation", None)
        if current not in _SAME_ATTENTION | {ATTENTION_IMPLEMENTATION}:
            raise ValueError(
                f"The Whisper model runs attention implementation {current!r}, which the "
                "Bridge adapter cannot hook (it replaces eager, sdpa and flash attention, which "
                "compute the same thing, by an eager attention with live hooks). Load the model "
                "with attn_implementation='eager'."
            )
        hf_model.set_attn_implementation(ATTENTION_IMPLEMENTATION)
        if not getattr(hf_model.forward, "_hooked_audio_audio_call", False):
            hf_model.forward = _audio_call(hf_model.forward)

    def setup_hook_compatibility(self, bridge: Any) -> None:
        """Check every call's inputs before TransformerBridge's forward reads them
        (`inputs.checked_forward`); Whisper has no `final_logits_bias` for the BART family's
        fold."""
        super().setup_hook_compatibility(bridge)
        checked_forward(bridge)


def check_whisper_config(config: Any, source: str) -> None:
    """A `WhisperConfig` whose options all are represented by the adapter, else a
    `ValueError` naming the others."""
    if getattr(config, "model_type", None) != "whisper":
        raise ValueError(
            f"{source} is a {getattr(config, 'model_type', None)!r} model; the Whisper adapter "
            "takes WhisperForConditionalGeneration checkpoints."
        )
    check_hf_config(config, WHISPER_BRIDGE_OPTIONS, source=source)


def _audio_call(forward: Any) -> Any:
    """`WhisperForConditionalGeneration.forward`, also taking the log-mel as `input_values`
    (the keyword TransformerBridge passes an audio model's tensor input as)."""

    @functools.wraps(forward)
    def call(*args: Any, input_values: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if input_values is not None:
            if kwargs.get("input_features") is not None:
                raise ValueError("Give the log-mel once: as the input, or as input_features.")
            kwargs["input_features"] = input_values
        return forward(*args, **kwargs)

    call._hooked_audio_audio_call = True  # type: ignore[attr-defined]
    return call


def _let_seq2seq_auto_class_build_whisper() -> None:
    """TransformerLens 4.3 builds encoder-decoder models with `AutoModelForSeq2SeqLM`, which
    has no Whisper entry (transformers files Whisper under `AutoModelForSpeechSeq2Seq`); add
    it, through transformers' own registration API."""
    import transformers

    transformers.AutoModelForSeq2SeqLM.register(
        transformers.WhisperConfig, transformers.WhisperForConditionalGeneration, exist_ok=True
    )
