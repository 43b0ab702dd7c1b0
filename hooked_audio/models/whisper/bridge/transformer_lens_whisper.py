"""Whisper architecture adapter.

Supports WhisperForConditionalGeneration: every openai-whisper size, distil-whisper and
large-v3-turbo (encoder and decoder depths may differ). Whisper is a pre-LN BART-family
encoder-decoder whose encoder embeds a log-mel spectrogram with two convolutions (conv1,
conv2, each followed by an inline GELU) and adds fixed sinusoidal positions; its output
projection is tied to the token embedding.

Call: ``bridge(input_features, decoder_input_ids=tokens)`` with the log-mel
``[batch, n_mels, 3000]`` and the decoder tokens.

Attention: TransformerBridge's plain ``AttentionBridge`` fires ``hook_pattern`` (and
``hook_attn_scores``, with the same post-softmax tensor) after HF has used it, so edits do not
reach the output. Whisper's attention modules take their attention function from
transformers' ``AttentionInterface``; this adapter registers ``hooked_eager_attention`` there,
HF's eager attention with the bridge's ``hook_attn_scores`` (pre-softmax, scaled, masked) and
``hook_pattern`` inside the computation. Projections, KV cache and cross-attention key reuse
stay HF's own code.
"""

from typing import Any

import torch

from transformer_lens.model_bridge.generalized_components import (
    AttentionBridge,
    EmbeddingBridge,
    LinearBridge,
    PosEmbedBridge,
    UnembeddingBridge,
)
from transformer_lens.model_bridge.generalized_components.base import (
    GeneralizedComponent,
)
from transformer_lens.model_bridge.supported_architectures.bart import (
    BartFamilyArchitectureAdapter,
)

#: the ``_attn_implementation`` a Whisper model runs under on the Bridge
HOOKED_ATTENTION = "transformer_lens_hooked_eager"
#: implementations computing HF's eager attention (kernels differ, not the model)
_SAME_ATTENTION = {None, "eager", "sdpa", "flash_attention_2", "flash_attention_3"}
#: the keyword carrying the bridge component through HF's attention call
_BRIDGE_KWARG = "transformer_lens_attention_bridge"


def hooked_eager_attention(
    module: torch.nn.Module,
    query: torch.Tensor,  # [batch, head, query_pos, d_head]; Whisper scales it beforehand
    key: torch.Tensor,  # [batch, head, key_pos, d_head]
    value: torch.Tensor,  # [batch, head, key_pos, d_head]
    attention_mask: torch.Tensor | None,  # additive [batch, 1, query_pos, key_pos]
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """HF Whisper's eager attention, same operations in the same order, with the calling
    bridge's score and pattern hooks inside. Without a bridge it is HF's eager attention."""
    bridge = kwargs.get(_BRIDGE_KWARG)
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3))
    if scaling != 1.0:  # Whisper passes 1.0 (its queries are scaled): x * 1.0 is x
        scores = scores * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    if bridge is not None:
        scores = bridge.hook_attn_scores(scores)
    pattern = torch.nn.functional.softmax(scores, dim=-1)
    if bridge is not None:
        pattern = bridge.hook_pattern(pattern)
    pattern = torch.nn.functional.dropout(pattern, p=dropout, training=module.training)
    output = torch.matmul(pattern, value).transpose(1, 2).contiguous()
    return output, pattern


def register_hooked_attention() -> None:
    """Register ``hooked_eager_attention`` (and the eager mask it expects) with transformers."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(HOOKED_ATTENTION, hooked_eager_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(HOOKED_ATTENTION, eager_mask)


class WhisperAttentionBridge(AttentionBridge):
    """Whisper self- or cross-attention: ``hook_in``, the q/k/v/o projections' hooks
    (``hook_q``/``hook_k``/``hook_v``/``hook_z`` per head), live ``hook_attn_scores`` and
    ``hook_pattern``, ``hook_out``."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.original_component is None:
            raise RuntimeError(
                f"Original component not set for {self.name}. Call set_original_component() first."
            )
        if "hidden_states" in kwargs:
            kwargs["hidden_states"] = self.hook_in(kwargs["hidden_states"])
        elif len(args) > 0:
            args = (self.hook_in(args[0]),) + args[1:]
        implementation = getattr(self.original_component.config, "_attn_implementation", None)
        if implementation != HOOKED_ATTENTION:
            raise RuntimeError(
                f"{self.name} runs attention implementation {implementation!r}; its score and "
                f"pattern hooks need {HOOKED_ATTENTION!r} (set when the bridge was built). "
                "Was the HF model's attention implementation changed afterwards?"
            )
        kwargs[_BRIDGE_KWARG] = self
        output = self.original_component(*args, **kwargs)
        return (self.hook_out(output[0]),) + tuple(output[1:])


class WhisperArchitectureAdapter(BartFamilyArchitectureAdapter):
    """Architecture adapter for WhisperForConditionalGeneration models."""

    supports_generation = False  # TransformerBridge.generate feeds no audio
    require_symmetric_layers = False  # large-v3-turbo: 32 encoder, 4 decoder layers
    n_layers_from = "encoder"
    force_scale_embedding = False
    has_layernorm_embedding = False
    has_final_stack_norm = True
    audio_input_name = "input_features"  # the log-mel, not a waveform

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.cfg.is_audio_model = True
        self.cfg.attn_implementation = HOOKED_ATTENTION

    def _attention(self, name: str, *, is_cross_attention: bool = False) -> AttentionBridge:
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
        """Register the hooked attention before HF validates ``attn_implementation``."""
        register_hooked_attention()

    def prepare_model(self, hf_model: Any) -> None:
        """Run attention through ``hooked_eager_attention``; refuse an implementation that
        computes something else (a custom kernel) rather than silently replacing it."""
        register_hooked_attention()
        current = getattr(hf_model.config, "_attn_implementation", None)
        if current not in _SAME_ATTENTION | {HOOKED_ATTENTION}:
            raise ValueError(
                f"This Whisper model runs attention implementation {current!r}, which the "
                "Whisper adapter cannot hook: it replaces eager, sdpa and flash attention "
                "(the same computation) by an eager attention with live hooks. Load the model "
                "with attn_implementation='eager'."
            )
        hf_model.set_attn_implementation(HOOKED_ATTENTION)

    def setup_hook_compatibility(self, bridge: Any) -> None:
        """Whisper has no ``final_logits_bias`` to fold (BART's hook is a no-op here)."""
        super().setup_hook_compatibility(bridge)
