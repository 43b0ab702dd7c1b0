"""The language-model and audio-tower streams of a `HookedAudioLM` as TransformerLens models.

    view = model.lm_stream(input_features=..., feature_attention_mask=...)   # input: input_ids
    view = model.audio_stream(input_ids, attention_mask=...)  # input: framed log-mel, pos = 20 ms

Both return the language model's logits, so the same metrics serve both.
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from hooked_audio.audio import frames_to_mel
from hooked_audio.components import RotaryEmbedding
from hooked_audio.constants import SECONDS_PER_POSITION
from hooked_audio.models.audio_lm.inputs import check_input_ids, mel_lengths_of
from hooked_audio.streams.positions import AudioPositions, TokenPositions
from hooked_audio.streams.view import StreamView, UnembedSurface, bound_rows


class AudioLMStream(TokenPositions, UnembedSurface, StreamView):
    """Input: `input_ids [batch, pos]`. Bound: the audio, embedded once (tower and projector;
    hooks added there later do not act on it: use `audio_stream` for those), the
    `attention_mask` and `position_ids`. Output: logits `[batch, pos, d_vocab]`.

    Local names are the model's own (`hook_embed`, `blocks.{l}...`, `ln_final`); the audio
    tower's and projector's hooks are not part of this stream.
    """

    causal = True
    excluded = ("audio_encoder.", "projector.")

    def __init__(
        self,
        model: Any,
        input_features: Tensor | None = None,
        feature_attention_mask: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        audio_embeds: Tensor | None = None,
    ):
        super().__init__(model, "")
        if input_features is not None and audio_embeds is not None:
            raise ValueError("Bind input_features or audio_embeds, not both.")
        if input_features is not None:
            with torch.no_grad():
                audio_embeds = model.embed_audio(input_features, feature_attention_mask)
        self.audio_embeds = None if audio_embeds is None else audio_embeds.detach()
        self.attention_mask, self.position_ids = attention_mask, position_ids

    @property
    def stack(self) -> torch.nn.Module:
        return self.model

    @property
    def ln_final(self):
        return self.model.ln_final

    W_U = property(lambda self: self.model.W_U)
    b_U = property(lambda self: self.model.b_U)
    W_E = property(lambda self: self.model.W_E)

    def _audio_for(self, input_ids: Tensor) -> Tensor | None:
        """The bound audio embeddings, repeated when one prompt's audio serves a larger batch."""
        if self.audio_embeds is None:
            return None
        n_rows_audio = int(self.model.audio_positions(input_ids).sum())
        if n_rows_audio == self.audio_embeds.shape[0] or self.audio_embeds.shape[0] == 0:
            return self.audio_embeds
        repeats, rest = divmod(n_rows_audio, self.audio_embeds.shape[0])
        if rest:
            return self.audio_embeds  # the model raises its placeholder-count error
        return self.audio_embeds.repeat(repeats, 1)

    def _masks(self, batch: int) -> tuple[Tensor | None, Tensor | None]:
        return (
            bound_rows(self.attention_mask, batch, "attention_mask"),
            bound_rows(self.position_ids, batch, "position_ids"),
        )

    def forward(self, input_ids: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        input_ids = check_input_ids(input_ids)
        attention_mask, position_ids = self._masks(input_ids.shape[0])
        return self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            audio_embeds=self._audio_for(input_ids),
        )

    def resume_from(
        self, layer: int, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Run from `blocks.{layer}.hook_resid_pre` onwards with the bound masks."""
        attention_mask, position_ids = self._masks(resid_pre.shape[0])
        return self.model.run_from(layer, resid_pre, attention_mask, position_ids)

    qk_hook_names = ("hook_rot_q", "hook_rot_k")  # the pattern reads the rotated ones

    def query_key(self, layer: int, resid_pre: Tensor) -> tuple[Tensor, Tensor]:
        """Rotated queries and keys (keys repeated per query head) for a residual stream."""
        attn = self.blocks[layer].attn
        normed = self.blocks[layer].ln1(resid_pre)
        _, position_ids = self._masks(resid_pre.shape[0])
        if position_ids is None:
            position_ids = torch.arange(resid_pre.shape[1], device=resid_pre.device)[None]
        cos, sin = self.model.rotary(position_ids.to(resid_pre.device), resid_pre.dtype)
        q = attn.project(normed, attn.W_Q, attn.b_Q)
        k = attn.project(normed, attn._W_K, attn._b_K)
        return (
            RotaryEmbedding.rotate(q, cos, sin),
            self.key_heads(layer, RotaryEmbedding.rotate(k, cos, sin)),
        )

    def key_heads(self, layer: int, k: Tensor) -> Tensor:
        return k.repeat_interleave(self.blocks[layer].attn.repeats, dim=2)


class AudioTowerStream(AudioPositions, StreamView):
    """Input: framed log-mel `[n_audio, 2, n_mels, pos]` (`hooked_audio.mel_to_frames`),
    `pos` = 20 ms frame. Bound: `input_ids`, `attention_mask`, `feature_attention_mask`.
    Output: the language model's logits `[batch, n_tokens, d_vocab]`.

    Local names: `blocks.{l}...` for `audio_encoder.blocks.{l}...`, `hook_embed` for the conv
    stem's output (`audio_encoder.hook_conv2`), `ln_final` for `audio_encoder.ln_post`.
    """

    aliases = {"hook_embed": "audio_encoder.hook_conv2", "ln_final": "audio_encoder.ln_post"}
    causal = False

    def __init__(
        self,
        model: Any,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        feature_attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
    ):
        super().__init__(model, "audio_encoder.")
        self.input_ids = check_input_ids(input_ids)
        self.attention_mask, self.position_ids = attention_mask, position_ids
        self.feature_attention_mask = feature_attention_mask

    @property
    def ln_final(self):
        return self.model.audio_encoder.ln_post

    def _bound(self, n_audio: int) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
        bound_audio = (
            1 if self.feature_attention_mask is None else self.feature_attention_mask.shape[0]
        )
        if n_audio != bound_audio and self.input_ids.shape[0] != 1:
            raise ValueError(
                f"The input has {n_audio} clips; the bound prompt batch holds "
                f"{self.input_ids.shape[0]} rows. Batch several clips only with "
                "one bound prompt of one clip."
            )
        batch = n_audio if self.input_ids.shape[0] == 1 else self.input_ids.shape[0]
        return (
            bound_rows(self.input_ids, batch, "input_ids"),
            bound_rows(self.attention_mask, batch, "attention_mask"),
            bound_rows(self.position_ids, batch, "position_ids"),
            bound_rows(self.feature_attention_mask, n_audio, "feature_attention_mask"),
        )

    def forward(
        self, frames: Float[Tensor, "n_audio 2 n_mels pos"]
    ) -> Float[Tensor, "batch pos d_vocab"]:
        if frames.ndim != 4 or frames.shape[1] != 2:
            raise ValueError(
                f"The audio stream takes framed audio (n_audio, 2, n_mels, pos) so that shape[-1] "
                f"is the 20 ms position; got shape {tuple(frames.shape)}. Use "
                "`hooked_audio.mel_to_frames(input_features)`."
            )
        input_ids, attention_mask, position_ids, feature_mask = self._bound(frames.shape[0])
        return self.model(
            input_ids,
            input_features=frames_to_mel(frames),
            attention_mask=attention_mask,
            feature_attention_mask=feature_mask,
            position_ids=position_ids,
        )

    def resume_from(
        self, layer: int, resid_pre: Float[Tensor, "n_audio pos d_model"]
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Run from the tower's `blocks.{layer}.hook_resid_pre` onwards (then the projector and
        the language model on the bound prompt)."""
        input_ids, attention_mask, position_ids, feature_mask = self._bound(resid_pre.shape[0])
        mel_lengths = None
        if feature_mask is not None:
            mel_lengths = mel_lengths_of(self.model.config, feature_mask, resid_pre.shape[0])
        tower_out = self.model.audio_encoder.run_from(layer, resid_pre, mel_lengths)
        audio_embeds = self.model.project_audio(tower_out, mel_lengths)
        resid = self.model.merge_audio(input_ids, audio_embeds)
        return self.model.run_from(0, resid, attention_mask, position_ids)

    seconds_per_position = SECONDS_PER_POSITION
