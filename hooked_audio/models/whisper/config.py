"""Configuration of a `HookedWhisper`: openai-whisper's dimensions plus one TransformerLens
config per stack (what `ActivationCache` and `transformer_lens.patching` read)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformer_lens.config import TransformerLensConfig
from whisper.model import ModelDimensions

from hooked_audio.models.whisper.vocabulary import MULTILINGUAL_VOCAB_SIZE


def _stack_config(
    n_layers: int,
    d_model: int,
    n_heads: int,
    n_ctx: int,
    d_vocab: int,
    positional_embedding_type: str,
    use_attn_result: bool,
    dtype: torch.dtype,
) -> TransformerLensConfig:
    return TransformerLensConfig(
        d_model=d_model,
        d_head=d_model // n_heads,
        n_layers=n_layers,
        n_ctx=n_ctx,
        n_heads=n_heads,
        d_mlp=4 * d_model,
        d_vocab=d_vocab,
        device="cpu",
        use_attn_result=use_attn_result,
        positional_embedding_type=positional_embedding_type,
        act_fn="gelu",
        normalization_type="LN",
        eps=1e-5,
        dtype=dtype,
    )


@dataclass
class HookedWhisperConfig:
    """`dims` as openai-whisper defines them; `encoder` / `decoder` as TransformerLens configs."""

    dims: ModelDimensions
    use_attn_result: bool = False
    dtype: torch.dtype = torch.float32
    encoder: TransformerLensConfig = field(init=False)
    decoder: TransformerLensConfig = field(init=False)

    def __post_init__(self) -> None:
        d = self.dims
        if d.n_audio_state != d.n_text_state:
            raise ValueError(
                f"Encoder width {d.n_audio_state} differs from decoder width {d.n_text_state}: "
                "Whisper's cross-attention needs them equal."
            )
        self.encoder = _stack_config(
            d.n_audio_layer,
            d.n_audio_state,
            d.n_audio_head,
            d.n_audio_ctx,
            -1,
            "sinusoidal",
            self.use_attn_result,
            self.dtype,
        )
        self.decoder = _stack_config(
            d.n_text_layer,
            d.n_text_state,
            d.n_text_head,
            d.n_text_ctx,
            d.n_vocab,
            "standard",
            self.use_attn_result,
            self.dtype,
        )

    @property
    def is_multilingual(self) -> bool:
        return self.dims.n_vocab >= MULTILINGUAL_VOCAB_SIZE

    @property
    def n_mels(self) -> int:
        return self.dims.n_mels

    @property
    def n_audio_frames(self) -> int:
        """Encoder positions (20 ms each): 1500 for a 30 s window."""
        return self.dims.n_audio_ctx
