"""The transformer stack of a `HookedAudioEncoder` as a TransformerLens model whose input's
last axis is the 20 ms position."""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.streams.positions import AudioPositions
from hooked_audio.streams.view import StreamView, UnembedSurface


class AudioEncoderStream(AudioPositions, UnembedSurface, StreamView):
    """Input: framed audio `[batch, 400, pos]` (`model.to_frames(waveform)`), `pos` = 20 ms.
    Output: the model's output (CTC logits, or the last hidden state). Nothing is bound.

    Local names are the model's own (`hook_embed`, `hook_pos_embed`, `ln_embed`, `blocks.{l}...`,
    `ln_final`, `feature_projection.ln...`); the conv feature extractor's hooks
    (`feature_extractor.conv_layers.{i}...`, each at its own frame rate) stay on the model.
    Padded batches are not supported here: clean and corrupt clips of equal length only.
    """

    excluded = ("feature_extractor.",)
    causal = False  # self-attention sees every position

    def __init__(self, model: Any):
        super().__init__(model, "")

    @property
    def stack(self) -> torch.nn.Module:
        return self.model

    @property
    def ln_final(self) -> torch.nn.Module:
        """The final LayerNorm (pre-LN checkpoints) or the identity (post-LN ones)."""
        return self.model.ln_final

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        return self._head().W_U

    @property
    def b_U(self) -> Float[Tensor, " d_vocab"]:  # noqa: F821, UP037
        return self._head().b_U

    def _head(self) -> torch.nn.Module:
        if self.model.unembed is None:
            raise AttributeError(
                "This checkpoint has no CTC head (vocab_size is None): its "
                "output is the last hidden state, with no unembedding."
            )
        return self.model.unembed

    def forward(
        self, frames: Float[Tensor, "batch window pos"]
    ) -> Float[Tensor, "batch pos d_out"]:
        window = self.model.config.receptive_field
        if not isinstance(frames, Tensor) or frames.ndim != 3 or frames.shape[1] != window:
            got = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
            raise ValueError(
                f"The encoder stream takes framed audio (batch, {window}, pos) so that shape[-1] "
                f"is the 20 ms position; got {got}. Use `model.to_frames(waveform)`."
            )
        return self.model(self.model.from_frames(frames))

    def resume_from(
        self, layer: int, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_out"]:
        """Run from `blocks.{layer}.hook_resid_pre` onwards (exactly what the full forward does
        from there; later hooks fire). Any batch size: nothing is bound."""
        return self.model.run_from(layer, resid_pre)

    # ------------------------------------------------------------ cells in time
    @property
    def seconds_per_position(self) -> float:
        return self.model.config.seconds_per_position

    def input_seconds(self, frames: Float[Tensor, "batch window pos"]) -> float | None:
        """Seconds of audio before trailing zero padding (the longest row): the last nonzero
        sample of the framed waveform ends the audio. None when nothing is padded."""
        wave = self.model.from_frames(frames)
        nonzero = wave != 0
        last = torch.where(nonzero, torch.arange(wave.shape[-1], device=wave.device), -1)
        n_samples = int(last.amax()) + 1
        return None if n_samples >= wave.shape[-1] else n_samples / SAMPLE_RATE

    # ------------------------------------------------------------ attention internals
    def query_key(self, layer: int, resid_pre: Tensor) -> tuple[Tensor, Tensor]:
        """Block `layer`'s queries and keys `[batch, pos, head, d_head]`: from `ln1(resid_pre)`
        on pre-LN blocks, from `resid_pre` itself on post-LN blocks."""
        block = self.blocks[layer]
        attn, source = block.attn, block.attention_input(resid_pre)
        return (
            attn.split_heads(attn.project(source, attn.W_Q, attn.b_Q)),
            attn.split_heads(attn.project(source, attn.W_K, attn.b_K)),
        )

    def accumulated_bias(
        self, layer: int, mlp_input: bool = False, include_mlp_biases: bool = True
    ) -> Float[Tensor, " d_model"]:  # noqa: F821, UP037
        """Sum of the output biases written to the residual stream before `layer` (attention
        `b_O`, MLP `b_out`), as TransformerLens defines it. Pre-LN checkpoints only: a post-LN
        residual stream is renormalised in every block, so it is no sum of biases."""
        if not self.model.config.do_stable_layer_norm:
            raise ValueError(
                "accumulated_bias needs a residual stream that is a sum of component outputs; "
                "this post-LN checkpoint (do_stable_layer_norm=False) renormalises it in every "
                "block. Bias decompositions apply to pre-LN checkpoints only."
            )
        return super().accumulated_bias(layer, mlp_input, include_mlp_biases)
