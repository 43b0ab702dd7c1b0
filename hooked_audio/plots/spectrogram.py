"""A Whisper log-mel on a time axis in seconds.

Mel column `i` is drawn over `[i, i + 1) * seconds_per_mel_frame`, the convention of
`AudioPositions.cell_seconds` (encoder position `p` holds columns `2p` and `2p + 1` and covers
`[p, p + 1) * 0.02` s), so a sweep's cells line up with the columns they patched.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.constants import HOP_LENGTH, SAMPLE_RATE

SECONDS_PER_MEL_FRAME = HOP_LENGTH / SAMPLE_RATE
LogMelLike = (
    Float[Tensor, "n_mels mel_frames"]
    | Float[Tensor, "1 n_mels mel_frames"]
    | Float[Tensor, "2 n_mels pos"]
    | Float[Tensor, "1 2 n_mels pos"]
    | np.ndarray
)


def as_log_mel(mel_or_frames: LogMelLike) -> Float[Tensor, "n_mels mel_frames"]:
    """One log-mel `[n_mels, mel_frames]` from a log-mel, a framed log-mel `[2, n_mels, pos]`
    (`mel_to_frames`'s layout), or either with a batch of one."""
    if not isinstance(mel_or_frames, (Tensor, np.ndarray)):
        raise TypeError(
            f"Expected a log-mel tensor, got {type(mel_or_frames).__name__}; pass "
            "model.to_mel(audio) or model.to_frames(audio)."
        )
    mel = torch.as_tensor(mel_or_frames).detach().float().cpu()
    shape = tuple(mel.shape)
    if mel.ndim == 4 and shape[:2] == (1, 2):
        mel = mel[0]
    elif mel.ndim == 3 and shape[0] == 1:
        mel = mel[0]
    if mel.ndim == 3 and mel.shape[0] == 2:
        return mel.permute(1, 2, 0).reshape(mel.shape[1], 2 * mel.shape[2])
    if mel.ndim == 2:
        return mel
    raise ValueError(
        f"Cannot read a log-mel of shape {shape}: expected [n_mels, frames], framed "
        "[2, n_mels, pos], or either with a batch of one; pick one clip with mel[i:i + 1]."
    )


def plot_log_mel(
    ax,
    mel_or_frames: LogMelLike,
    seconds_per_mel_frame: float = SECONDS_PER_MEL_FRAME,
    cmap: str = "magma",
    colorbar: bool = False,
    start_s: float = 0.0,
):
    """Draw a log-mel on `ax` with time in seconds on x and mel bins (low at the bottom) on y;
    returns the image. `colorbar=True` adds a "log-mel" colorbar; `start_s` is the time of its
    first frame (a window of a long recording starts at 30 w s)."""
    if not seconds_per_mel_frame > 0:
        raise ValueError(
            f"seconds_per_mel_frame must be positive, got {seconds_per_mel_frame} "
            "(Whisper's hop is 0.01 s)."
        )
    mel = as_log_mel(mel_or_frames).numpy()
    n_mels, n_frames = mel.shape
    image = ax.imshow(
        mel,
        origin="lower",
        aspect="auto",
        cmap=cmap,
        interpolation="nearest",
        extent=(start_s, start_s + n_frames * seconds_per_mel_frame, -0.5, n_mels - 0.5),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel bin")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="log-mel")
    return image
