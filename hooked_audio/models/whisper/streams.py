"""The encoder and decoder streams of a `HookedWhisper` as TransformerLens models."""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from hooked_audio.audio import frames_to_mel, mel_to_frames
from hooked_audio.cache_memory import StackExtent
from hooked_audio.models.whisper.decoder_cache import WhisperDecoderCache
from hooked_audio.models.whisper.token_input import as_tokens
from hooked_audio.streams.positions import AudioPositions, TokenPositions
from hooked_audio.streams.view import StreamView, UnembedSurface, bound_rows


class WhisperEncoderStream(AudioPositions, StreamView):
    """Input: framed log-mel `[batch, 2, n_mels, pos]` (`model.to_frames`), `pos` = 20 ms frame.
    Bound: the decoder tokens. Output: the decoder's logits `[batch, n_tokens, d_vocab]`.

    Local names: `blocks.{l}...` for `encoder.blocks.{l}...`, `hook_embed` for the conv stem's
    output (`encoder.hook_conv2`), `hook_pos_embed`, `ln_final` for `encoder.ln_post`.
    """

    aliases = {"hook_embed": "encoder.hook_conv2", "ln_final": "encoder.ln_post"}
    causal = False  # self-attention sees every frame

    def __init__(self, model: Any, tokens: Int[Tensor, "batch n_tokens"]):
        super().__init__(model, "encoder.")
        self.tokens = as_tokens(tokens, model.device)

    @property
    def ln_final(self):
        return self.model.encoder.ln_post

    def forward(
        self, frames: Float[Tensor, "batch 2 n_mels pos"]
    ) -> Float[Tensor, "batch n_tokens d_vocab"]:
        if frames.ndim != 4:
            raise ValueError(
                f"The encoder stream takes framed audio (batch, 2, n_mels, pos) so that "
                f"shape[-1] is the 20 ms position; got shape {tuple(frames.shape)}. Use "
                "`model.to_frames(audio)` or `hooked_audio.mel_to_frames(mel)`."
            )
        features = self.model.encoder(self.model.to_mel_input(frames))
        tokens = bound_rows(self.tokens, features.shape[0], "tokens")
        return self.model.decoder(tokens, features)

    @property
    def seconds_per_position(self) -> float:
        return self.model.window_seconds / self.cfg.n_ctx

    def cache_extent(self, frames: Tensor) -> StackExtent:
        """Positions of the stack, and twice as many at the conv stem's first layer."""
        return StackExtent.of(
            self.cfg, frames.shape[0], frames.shape[-1], n_stem_pos=2 * frames.shape[-1]
        )

    def input_seconds(self, frames: Float[Tensor, "batch 2 n_mels pos"]) -> float | None:
        """Seconds of audio before the padding of the window (the longest row), or None when
        the input has no padding (a full window, or a corruption that fills the padding too).

        Zero padding has no energy, so Whisper's log-mel clamps it to the spectrogram's floor
        in every mel bin: the trailing columns at the floor are the padding."""
        mel = frames_to_mel(frames) if frames.ndim == 4 else frames
        floor = mel.amin(dim=(-2, -1), keepdim=True)
        speech = (mel > floor + 1e-6).any(dim=-2)  # [batch, mel_frame]
        last = torch.where(speech, torch.arange(mel.shape[-1], device=mel.device), -1)
        n_mel_frames = int(last.amax()) + 1
        if n_mel_frames >= mel.shape[-1]:
            return None
        return n_mel_frames * self.seconds_per_position / 2

    def resume_from(
        self, layer: int, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch n_tokens d_vocab"]:
        """Run from `blocks.{layer}.hook_resid_pre` onwards (exactly what the full forward does
        from there; hooks on later points still fire). The fast sweep engine's entry point."""
        features = self.model.encoder.run_from(layer, resid_pre)
        return self.model.decoder(bound_rows(self.tokens, features.shape[0], "tokens"), features)


class WhisperDecoderStream(TokenPositions, UnembedSurface, StreamView):
    """Input: decoder tokens `[batch, pos]`. Bound: the audio, encoded once, and its
    cross-attention keys/values projected once (reused by every run). Output: logits
    `[batch, pos, d_vocab]`. The view snapshots the audio encoding when it is made: hooks on
    the encoder added later do not act on it (use the encoder stream for those)."""

    causal = True  # self-attention sees earlier tokens only
    attention_names = ("attn", "cross_attn")

    def __init__(
        self,
        model: Any,
        audio: Tensor | None = None,
        audio_features: Float[Tensor, "batch audio_pos d_model"] | None = None,
    ):
        super().__init__(model, "decoder.")
        if (audio is None) == (audio_features is None):
            raise ValueError("Give exactly one of `audio` (log-mel or frames) or `audio_features`.")
        with torch.no_grad():
            if audio_features is None:
                audio_features = model.encoder(model.to_mel_input(audio))
            self.audio_features = audio_features.detach()
            self._cross_kv = self._project_audio(self.audio_features)

    def _project_audio(self, features: Tensor) -> dict:
        """Cross-attention keys and values of every block, computed once.

        They depend on the audio only, and projecting 1500 frames per block is most of a
        decoder forward. Passed as openai-whisper's `kv_cache` (keyed by the `key`/`value`
        taps); `cross_attn.hook_k`/`hook_v` still fire on them every run.
        """
        cache = {}
        for block in self.blocks:
            attn = block.cross_attn
            cache[attn.key] = attn.project(features, attn.W_K, attn.b_K)
            cache[attn.value] = attn.project(features, attn.W_V, attn.b_V)
        return cache

    def _bound_audio(self, batch: int) -> tuple[Tensor, dict]:
        features = bound_rows(self.audio_features, batch, "audio")
        return features, {tap: bound_rows(kv, batch, "audio") for tap, kv in self._cross_kv.items()}

    @property
    def ln_final(self):
        return self.model.decoder.ln_final

    W_U = property(lambda self: self.model.decoder.W_U)
    b_U = property(lambda self: self.model.decoder.b_U)
    W_E = property(lambda self: self.model.decoder.W_E)
    W_pos = property(lambda self: self.model.decoder.W_pos)

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        tokens = as_tokens(tokens, self.model.device)
        features, cross_kv = self._bound_audio(tokens.shape[0])
        return self.model.decoder(tokens, features, kv_cache=cross_kv)

    def cache_extent(self, tokens: Tensor) -> StackExtent:
        """Token positions, and the bound audio frames as cross-attention keys."""
        tokens = as_tokens(tokens, self.model.device)
        return StackExtent.of(
            self.cfg, tokens.shape[0], tokens.shape[-1], n_cross_pos=self.audio_features.shape[1]
        )

    def resume_from(
        self, layer: int, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Run from `blocks.{layer}.hook_resid_pre` onwards, on the bound audio features."""
        features, cross_kv = self._bound_audio(resid_pre.shape[0])
        return self.model.decoder.run_from(layer, resid_pre, features, kv_cache=cross_kv)

    def make_cache(self, cache_dict, has_batch_dim):
        return WhisperDecoderCache(cache_dict, self, has_batch_dim=has_batch_dim)


def frames_of(audio: Tensor) -> Tensor:
    """A log-mel `[batch, n_mels, 2 * pos]` or frames -> frames `[batch, 2, n_mels, pos]`."""
    return audio if audio.ndim == 4 else mel_to_frames(audio)
