"""Whisper's audio encoder: conv stem, fixed sinusoidal positions, pre-LN blocks, `ln_post`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn
from transformer_lens.config import TransformerLensConfig
from whisper.model import sinusoids

from hooked_audio.components import LayerNorm
from hooked_audio.components.stacked_weights import StackedWeightsMixin
from hooked_audio.constants import MEL_FRAMES_PER_POSITION, MEL_FRAMES_PER_SECOND
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.models.whisper.blocks import WhisperEncoderBlock


class WhisperEncoder(StackedWeightsMixin, nn.Module):
    """Log-mel `[batch, n_mels, 2 * n_audio_ctx]` -> audio features `[batch, n_audio_ctx, d_model]`.

    Each output position is one 20 ms frame: conv2 has stride 2 over 10 ms mel hops.
    """

    def __init__(self, cfg: TransformerLensConfig, n_mels: int):
        super().__init__()
        self.cfg = cfg
        self.n_mels = n_mels
        d_model, n_ctx = cfg.d_model, cfg.n_ctx
        self.conv1 = nn.Conv1d(n_mels, d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)
        # Fixed, as in openai-whisper; a buffer so loaded checkpoints keep their exact values.
        self.register_buffer("W_pos", sinusoids(n_ctx, d_model))
        self.blocks = nn.ModuleList(
            [
                WhisperEncoderBlock(d_model, cfg.n_heads, use_attn_result=cfg.use_attn_result)
                for _ in range(cfg.n_layers)
            ]
        )
        self.ln_post = LayerNorm(d_model)
        self.hook_conv1 = AudioHookPoint()  # [batch, mel_frame, d_model], after GELU (10 ms)
        self.hook_conv2 = AudioHookPoint()  # [batch, pos, d_model], after GELU (20 ms)
        self.hook_pos_embed = AudioHookPoint()  # [batch, pos, d_model]

    def check_mel(self, mel: Tensor) -> None:
        """Raise a clear error unless `mel` is `[batch, n_mels, 2 * n_audio_ctx]`."""
        expected = (self.n_mels, MEL_FRAMES_PER_POSITION * self.cfg.n_ctx)
        if mel.ndim != 3 or tuple(mel.shape[1:]) != expected:
            n_bins = mel.shape[1] if mel.ndim == 3 else None
            raise ValueError(
                f"Expected a log-mel of shape (batch, {expected[0]}, {expected[1]}), got "
                f"{tuple(mel.shape)}.{self._shape_hint(n_bins, mel.ndim == 3, 'to_mel')}"
            )
        if not torch.is_floating_point(mel):
            raise TypeError(f"The log-mel must be a float tensor, got {mel.dtype}.")

    def check_frames(self, frames: Tensor) -> None:
        """Raise a clear error unless `frames` is `[batch, 2, n_mels, n_audio_ctx]`."""
        expected = (2, self.n_mels, self.cfg.n_ctx)
        if tuple(frames.shape[1:]) != expected:
            raise ValueError(
                f"Expected framed audio of shape (batch, 2, {self.n_mels}, {self.cfg.n_ctx}), "
                f"got {tuple(frames.shape)}."
                f"{self._shape_hint(frames.shape[2], frames.ndim == 4, 'to_frames')}"
            )

    def _shape_hint(self, n_bins: int | None, right_rank: bool, builder: str) -> str:
        if not right_rank:
            return ""
        if n_bins != self.n_mels:
            return (
                f" The model takes {self.n_mels} mel bins but got {n_bins}: compute the "
                f"input with `model.{builder}(audio)`, which uses the model's n_mels."
            )
        n_pos, n_mel_frames = self.cfg.n_ctx, MEL_FRAMES_PER_POSITION * self.cfg.n_ctx
        seconds = n_mel_frames / MEL_FRAMES_PER_SECOND
        size = (
            f"{n_mel_frames} mel frames ({n_pos} positions of 20 ms"
            if builder == "to_mel"
            else f"{n_pos} positions of 20 ms ({n_mel_frames} mel frames"
        )
        return (
            f" Whisper's encoder needs exactly {size}, {seconds:g} s); `model.{builder}"
            "(audio)` pads shorter audio and refuses longer (or splits it with chunk=True)."
        )

    def forward(
        self, mel: Float[Tensor, "batch n_mels mel_frames"]
    ) -> Float[Tensor, "batch pos d_model"]:
        self.check_mel(mel)
        x = mel.to(self.conv1.weight.dtype)
        x = self.hook_conv1(F.gelu(self.conv1(x)).transpose(1, 2))
        x = self.hook_conv2(F.gelu(self.conv2(x.transpose(1, 2))).transpose(1, 2))
        pos_embed = self.hook_pos_embed(self.W_pos.to(x.dtype).expand(x.shape[0], -1, -1))
        return self.run_from(0, x + pos_embed)

    def run_from(
        self, layer: int, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        """Blocks `layer..` then `ln_post`, from `blocks.{layer}.hook_resid_pre`."""
        x = resid_pre
        for block in self.blocks[layer:]:
            x = block(x)
        return self.ln_post(x)
