"""The framed layout: log-mel regrouped by encoder position.

Whisper's encoder turns a log-mel ``(batch, n_mels, 2*P)`` with 10 ms hops into
``P`` positions of 20 ms (``conv2`` has stride 2). TransformerLens-style
patching indexes positions on the input's *last* axis, so we regroup the mel
bijectively into ``(batch, 2, n_mels, P)``:

    frames[b, j, m, p] == mel[b, m, 2 * p + j]

i.e. ``frames[..., p]`` holds mel columns ``2p`` and ``2p + 1``, the two 10 ms
hops that encoder position ``p`` is centred on.
"""

from __future__ import annotations

import einops
from jaxtyping import Float
from torch import Tensor

from hooked_audio.audio.errors import AudioInputError


def mel_to_frames(
    mel: Float[Tensor, "batch n_mels n_mel_frames"],
) -> Float[Tensor, "batch 2 n_mels n_positions"]:
    """Regroup a log-mel into per-position pairs of hops (see module docstring)."""
    if not isinstance(mel, Tensor) or mel.ndim != 3:
        got = f"shape {tuple(mel.shape)}" if isinstance(mel, Tensor) else type(mel).__name__
        raise AudioInputError(
            f"mel_to_frames expects a (batch, n_mels, n_mel_frames) tensor, got {got}; "
            "add a batch axis with mel[None] for a single log-mel."
        )
    if mel.shape[-1] % 2:
        raise AudioInputError(
            f"mel has an odd number of frames ({mel.shape[-1]}); each encoder position "
            "covers 2 mel frames, so pad or trim the mel (or the audio, to a multiple "
            "of 320 samples) to an even length."
        )
    return einops.rearrange(mel, "b m (p two) -> b two m p", two=2)


def frames_to_mel(
    frames: Float[Tensor, "batch 2 n_mels n_positions"],
) -> Float[Tensor, "batch n_mels n_mel_frames"]:
    """Inverse of :func:`mel_to_frames`: ``(batch, 2, n_mels, P) -> (batch, n_mels, 2P)``."""
    if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 2:
        is_t = isinstance(frames, Tensor)
        got = f"shape {tuple(frames.shape)}" if is_t else type(frames).__name__
        raise AudioInputError(
            f"frames_to_mel expects a (batch, 2, n_mels, n_positions) tensor, got {got}; "
            "pass the output of mel_to_frames."
        )
    return einops.rearrange(frames, "b two m p -> b m (p two)", two=2)
