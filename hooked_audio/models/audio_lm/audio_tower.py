"""The Whisper-style audio tower of an audio LM: conv stem, learned-table positions, the same
pre-LayerNorm blocks as HookedWhisper's encoder, optional average pooling, final LayerNorm.

Qwen2-Audio pools pairs of 20 ms frames (40 ms per output) before its final LayerNorm and
masks padded frames as attention keys; Voxtral does neither (it pads every clip to 30 s).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn
from transformer_lens.config import TransformerLensConfig

from hooked_audio.components import LayerNorm
from hooked_audio.components.stacked_weights import StackedWeightsMixin
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.models.whisper.blocks import WhisperEncoderBlock


def frame_lengths(mel_lengths: Int[Tensor, " n_audio"]) -> Int[Tensor, " n_audio"]:
    """Valid 20 ms frames after the stride-2 conv for `mel_lengths` valid 10 ms mel frames."""
    return (mel_lengths - 1) // 2 + 1


def pooled_lengths(mel_lengths: Int[Tensor, " n_audio"], pool: int) -> Int[Tensor, " n_audio"]:
    """Audio embeddings the language model receives per clip (as HF computes them)."""
    frames = frame_lengths(mel_lengths)
    return frames if pool == 1 else (frames - pool) // pool + 1


class AudioTower(StackedWeightsMixin, nn.Module):
    """Log-mel `[n_audio, n_mels, 2 * n_ctx]` -> features `[n_audio, n_ctx / pool, d_model]`."""

    def __init__(self, cfg: TransformerLensConfig, n_mels: int, pool: int, mask_padding: bool):
        super().__init__()
        self.cfg, self.n_mels, self.pool, self.mask_padding = cfg, n_mels, pool, mask_padding
        d_model = cfg.d_model
        self.conv1 = nn.Conv1d(n_mels, d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)
        self.register_buffer("W_pos", torch.zeros(cfg.n_ctx, d_model))
        self.blocks = nn.ModuleList(
            [
                WhisperEncoderBlock(
                    d_model, cfg.n_heads, d_mlp=cfg.d_mlp, use_attn_result=cfg.use_attn_result
                )
                for _ in range(cfg.n_layers)
            ]
        )
        self.ln_post = LayerNorm(d_model)
        self.hook_conv1 = AudioHookPoint()  # [n_audio, mel_frame, d_model], after GELU (10 ms)
        self.hook_conv2 = AudioHookPoint()  # [n_audio, pos, d_model], after GELU (20 ms)
        self.hook_pos_embed = AudioHookPoint()  # [n_audio, pos, d_model]
        self.hook_pooled = AudioHookPoint()  # [n_audio, pos / pool, d_model], before ln_post

    def key_valid(
        self, mel_lengths: Int[Tensor, " n_audio"] | None
    ) -> Bool[Tensor, "n_audio pos"] | None:
        """Which 20 ms frames are real audio (None: all, or a tower that does not mask)."""
        if mel_lengths is None or not self.mask_padding:
            return None
        positions = torch.arange(self.cfg.n_ctx, device=mel_lengths.device)
        valid = positions[None] < frame_lengths(mel_lengths)[:, None]
        return None if valid.all() else valid  # no mask lets the fused kernel skip masking

    def forward(
        self,
        mel: Float[Tensor, "n_audio n_mels mel_frames"],
        mel_lengths: Int[Tensor, " n_audio"] | None = None,
    ) -> Float[Tensor, "n_audio out_pos d_model"]:
        x = mel.to(self.conv1.weight.dtype)
        x = self.hook_conv1(F.gelu(self.conv1(x)).transpose(1, 2))
        x = self.hook_conv2(F.gelu(self.conv2(x.transpose(1, 2))).transpose(1, 2))
        pos_embed = self.hook_pos_embed(self.W_pos.to(x.dtype).expand(x.shape[0], -1, -1))
        return self.run_from(0, x + pos_embed, mel_lengths)

    def run_from(
        self,
        layer: int,
        resid_pre: Float[Tensor, "n_audio pos d_model"],
        mel_lengths: Int[Tensor, " n_audio"] | None = None,
    ) -> Float[Tensor, "n_audio out_pos d_model"]:
        """Blocks `layer..`, pooling and `ln_post`, from `blocks.{layer}.hook_resid_pre`."""
        key_valid = self.key_valid(mel_lengths)
        x = resid_pre
        for block in self.blocks[layer:]:
            x = block(x, key_valid)
        if self.pool > 1:
            x = F.avg_pool1d(x.transpose(1, 2), self.pool, self.pool).transpose(1, 2)
        return self.ln_post(self.hook_pooled(x))
