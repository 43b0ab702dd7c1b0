"""Whisper as a source of per-position activations: the encoder (one row per 20 ms frame; for
the activation store and SAE training) and the decoder (one row per token of each clip's own
transcript; for SAE training).

A source has `check_hooks(names)`, `features(hook)` (the feature count of a hook's rows) and
`rows(clips, hooks, batch_size, padding)`, an iterator of objects whose `values[hook]` is a
`[rows, features]` float32 array: what `hooked_audio.sae.ActivationBatches.from_clips` reads."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from hooked_audio.activation_store.row_hooks import check_row_hooks
from hooked_audio.activation_store.window_rows import window_rows
from hooked_audio.constants import SAMPLE_RATE, SAMPLES_PER_POSITION


class WhisperEncoderSource:
    """`model`'s encoder hooks (`encoder.blocks.{l}.hook_resid_post`, `...attn.hook_z`, ...:
    any encoder hook whose second axis is the position). `name` is recorded in the store."""

    samples_per_position = SAMPLES_PER_POSITION

    def __init__(self, model, name: str = ""):
        self.model, self.name = model, name
        self.window_samples = model.window_samples

    def check_hooks(self, names: list[str]) -> None:
        """Unknown hooks and hooks without a position axis are refused before any work."""
        check_row_hooks(names, self.model.hook_dict, "encoder.", "encoder")

    def activations(self, windows: list[np.ndarray], names: list[str]) -> dict[str, Tensor]:
        """`{name: [window, position, features]}` (float32, on the CPU) for a batch of
        waveforms of at most one window each (at `SAMPLE_RATE`, 16 kHz)."""
        kept: dict[str, Tensor] = {}

        def keep(activation: Tensor, hook) -> None:
            kept[hook.name] = activation.detach().flatten(2).float().cpu()

        mel = self.model.to_mel([torch.as_tensor(w) for w in windows], sample_rate=SAMPLE_RATE)
        with torch.no_grad(), self.model.hooks(fwd_hooks=[(n, keep) for n in names]):
            self.model.embed_audio(mel)
        return kept

    def rows(self, clips, hooks: list[str], batch_size: int, padding: bool):
        """Each window's audio positions (`padding=True`: all 1500), `batch_size` windows per
        forward (`hooked_audio.activation_store.window_rows`)."""
        return window_rows(self, clips, hooks, batch_size, padding)

    def features(self, hook: str) -> int:
        """The feature count of `hook`'s rows, from one short window of silence."""
        silence = np.zeros(self.samples_per_position, np.float32)
        return int(self.activations([silence], [hook])[hook].shape[-1])
