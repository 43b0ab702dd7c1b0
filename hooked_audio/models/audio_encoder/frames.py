"""The framed waveform: raw audio regrouped by encoder position, so that the position is the
last axis (what `transformer_lens.patching` sweeps over).

The conv stack reads a window of `receptive_field` samples (400, 25 ms) every `hop` samples
(320, 20 ms): `n_pos = (samples - 400) // 320 + 1`, and it reads the first
`n_pos * 320 + 80` samples. The framed layout holds each position's window:

    frames[b, j, p] == waveform[b, p * 320 + j]        for 0 <= j < 400

so `frames[..., p]` is exactly what position `p` hears. Consecutive windows overlap by 80
samples, so rows `320..399` of position `p` repeat rows `0..79` of position `p + 1`. The
inverse reads each sample once: rows `0..319` (the position's own 20 ms hop) of every
position, then rows `320..399` of the last one (the 5 ms tail). Rows `320..399` of the other
positions are not read: patching position `p` replaces the samples of its hop,
`[p * 320, (p + 1) * 320)`, which is the 20 ms the position's time cell reports.

Samples after the last window reach no position and are dropped by `waveform_to_frames`.
With `feat_extract_norm="layer"` they change nothing; with "group" (base checkpoints) the
first conv layer normalises over the whole clip, so they would shift its statistics: the
framed forward equals the forward of the trimmed waveform, `frames_to_waveform(frames)`.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.audio.errors import AudioInputError


def waveform_to_frames(
    waveform: Float[Tensor, "batch samples"], hop: int, receptive_field: int
) -> Float[Tensor, "batch window pos"]:
    """`[batch, samples]` -> `[batch, receptive_field, n_pos]` (see the module docstring)."""
    if waveform.ndim != 2 or waveform.shape[-1] < receptive_field:
        raise AudioInputError(
            f"waveform_to_frames takes (batch, samples) with at least {receptive_field} samples, "
            f"got shape {tuple(waveform.shape)}."
        )
    return waveform.unfold(-1, receptive_field, hop).transpose(1, 2).contiguous()


def frames_to_waveform(
    frames: Float[Tensor, "batch window pos"], hop: int
) -> Float[Tensor, "batch samples"]:
    """Inverse of `waveform_to_frames`: `[batch, window, n_pos]` -> `[batch, n_pos * hop +
    window - hop]`, each sample read once (hops of every position, then the last tail)."""
    if frames.ndim != 3 or frames.shape[1] <= hop or frames.shape[-1] < 1:
        raise AudioInputError(
            f"frames_to_waveform takes framed audio (batch, window, pos) with window > {hop}, "
            f"got shape {tuple(frames.shape)}; build it with `model.to_frames(waveform)`."
        )
    batch, _, n_pos = frames.shape
    hops = frames[:, :hop, :].transpose(1, 2).reshape(batch, n_pos * hop)
    return torch.cat([hops, frames[:, hop:, -1]], dim=-1)
