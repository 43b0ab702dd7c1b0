"""Projectors from audio-tower features to language-model embeddings.

Hooks: `hook_in` (what the projector reads, `[n_audio, audio_pos, d_in]`; frames already
stacked for Voxtral) and `hook_out` (`[n_audio, audio_pos, d_model]`, before the audio
embeddings are placed into the text sequence; see `HookedAudioLM.hook_audio_embed`).
"""

from __future__ import annotations

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.components.gated_mlp import ACTIVATIONS
from hooked_audio.hook_point import AudioHookPoint


class LinearProjector(nn.Module):
    """Qwen2-Audio: one linear map (with bias) per 40 ms audio embedding."""

    stack = 1

    def __init__(self, d_audio: int, d_model: int):
        super().__init__()
        self.W = nn.Parameter(torch.empty(d_audio, d_model))
        self.b = nn.Parameter(torch.zeros(d_model))
        self.hook_in = AudioHookPoint()
        self.hook_out = AudioHookPoint()

    def forward(
        self, x: Float[Tensor, "n_audio pos d_audio"]
    ) -> Float[Tensor, "n_audio pos d_model"]:
        return self.hook_out(F.linear(self.hook_in(x), self.W.T, self.b))


class StackingProjector(nn.Module):
    """Voxtral: concatenate `stack` consecutive 20 ms frames (80 ms for 4), then
    `W_2(act(W_1 x))`, no biases. `hook_mid` is the activation after `act`."""

    def __init__(self, d_audio: int, d_model: int, stack: int, act_fn: str = "gelu"):
        super().__init__()
        if act_fn not in ACTIVATIONS:
            raise ValueError(f"Unsupported projector activation {act_fn!r}.")
        self.stack, self.act_fn = stack, act_fn
        self.W_1 = nn.Parameter(torch.empty(stack * d_audio, d_model))
        self.W_2 = nn.Parameter(torch.empty(d_model, d_model))
        self.hook_in = AudioHookPoint()
        self.hook_mid = AudioHookPoint()
        self.hook_out = AudioHookPoint()

    def forward(
        self, x: Float[Tensor, "n_audio pos d_audio"]
    ) -> Float[Tensor, "n_audio pos_out d_model"]:
        if x.shape[1] % self.stack:
            raise ValueError(f"{x.shape[1]} audio frames do not split into groups of {self.stack}.")
        stacked = self.hook_in(einops.rearrange(x, "n (p s) d -> n p (s d)", s=self.stack))
        mid = self.hook_mid(ACTIVATIONS[self.act_fn](stacked @ self.W_1))
        return self.hook_out(mid @ self.W_2)
