"""Whisper's front end: its log-mel features for a batch of 16 kHz waveforms, and its window.

This is a thin wrapper over Whisper's own front end
(``whisper.audio.pad_or_trim`` + ``whisper.audio.log_mel_spectrogram``), which
is the reference; nothing here re-implements the STFT or the mel filters.
The window constants are re-exported from ``whisper.audio`` so that the log-mel, frames and
windows match the reference exactly: a window of Whisper's encoder is 30 s, 480000 samples,
3000 mel frames of 10 ms (an STFT of ``N_FFT`` = 400 samples each), 1500 positions of 20 ms.

Each waveform is converted on its own: Whisper clamps the log-mel at
``max - 8`` over the whole tensor it is given, so batching the STFT would let
one clip change another's features.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import whisper.audio as wa
from jaxtyping import Float
from torch import Tensor
from whisper.audio import CHUNK_LENGTH, N_FFT, N_FRAMES, N_SAMPLES

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import carried_rate
from hooked_audio.constants import MEL_FRAMES_PER_POSITION

#: seconds in one window of Whisper's encoder (30)
WINDOW_SECONDS = CHUNK_LENGTH
#: samples in one window (480000)
WINDOW_SAMPLES = N_SAMPLES
#: log-mel frames in one window (3000)
WINDOW_MEL_FRAMES = N_FRAMES
#: encoder positions in one window (1500)
WINDOW_POSITIONS = N_FRAMES // MEL_FRAMES_PER_POSITION

SUPPORTED_N_MELS = (80, 128)  # 80: tiny..large-v2, 128: large-v3 / turbo

__all__ = [
    "N_FFT",  # samples of the STFT window behind one log-mel frame (400, 25 ms)
    "SUPPORTED_N_MELS",
    "WINDOW_MEL_FRAMES",
    "WINDOW_POSITIONS",
    "WINDOW_SAMPLES",
    "WINDOW_SECONDS",
    "MelBatch",
    "log_mel",
    "log_mel_chunks",
]


class MelBatch(NamedTuple):
    """Log-mel windows plus where each came from.

    Attributes:
        mel: ``(n_windows, n_mels, n_samples // 160)`` log-mel windows.
        source_index: for each window, the index of the input waveform.
        start_seconds: for each window, its start time within that input.
    """

    mel: Float[Tensor, "n_windows n_mels n_mel_frames"]
    source_index: list[int]
    start_seconds: list[float]


def log_mel(
    waveforms: Sequence[np.ndarray | Tensor] | np.ndarray | Tensor,
    n_mels: int,
    *,
    n_samples: int = wa.N_SAMPLES,
    chunk: bool = False,
    device: str | torch.device | None = None,
) -> Float[Tensor, "batch n_mels n_mel_frames"]:
    """Whisper log-mel of each 16 kHz mono waveform, padded/trimmed to the window.

    Args:
        waveforms: a list of 1-D 16 kHz waveforms (e.g. from ``load_audio_batch``);
            a single 1-D waveform is treated as a batch of one.
        n_mels: 80 (Whisper tiny..large-v2) or 128 (large-v3, turbo).
        n_samples: window length in samples (default 480000 = 30 s).
        chunk: if True, inputs longer than the window are split into
            consecutive windows (the last one zero-padded) and the batch axis
            holds all windows of all inputs in order; use :func:`log_mel_chunks`
            to also get which input and start time each window belongs to.
        device: where to compute (passed to Whisper's front end).

    Returns:
        ``(batch, n_mels, n_samples // 160)`` float32 log-mel.

    Raises:
        AudioInputError: for an invalid ``n_mels``/``n_samples``, bad waveforms,
            or audio longer than the window when ``chunk`` is False.
    """
    if chunk:
        return log_mel_chunks(waveforms, n_mels, n_samples=n_samples, device=device).mel
    waves = _check_inputs(waveforms, n_mels, n_samples)
    for i, w in enumerate(waves):
        if w.shape[0] > n_samples:
            seconds, limit = w.shape[0] / wa.SAMPLE_RATE, n_samples / wa.SAMPLE_RATE
            raise AudioInputError(
                f"waveform {i} is {seconds:.2f} s long, over Whisper's {limit:g} s window. "
                "Pass chunk=True (or use log_mel_chunks) to split it into consecutive "
                f"{limit:g} s windows, or use whisper.transcribe(model, audio) for "
                "long-form transcription."
            )
    return torch.stack([_one(w, n_mels, n_samples, device) for w in waves])


def log_mel_chunks(
    waveforms: Sequence[np.ndarray | Tensor] | np.ndarray | Tensor,
    n_mels: int,
    *,
    n_samples: int = wa.N_SAMPLES,
    device: str | torch.device | None = None,
) -> MelBatch:
    """Split each waveform into consecutive windows and return their log-mels.

    A waveform of length L gives ``ceil(L / n_samples)`` windows; each window's
    log-mel is computed independently (so it differs slightly from
    ``whisper.transcribe``, which computes one log-mel over the whole file).
    """
    waves = _check_inputs(waveforms, n_mels, n_samples)
    mels: list[Tensor] = []
    source: list[int] = []
    starts: list[float] = []
    for i, w in enumerate(waves):
        for k in range(math.ceil(w.shape[0] / n_samples)):
            mels.append(_one(w[k * n_samples : (k + 1) * n_samples], n_mels, n_samples, device))
            source.append(i)
            starts.append(k * n_samples / wa.SAMPLE_RATE)
    return MelBatch(torch.stack(mels), source, starts)


def _one(wave: Tensor, n_mels: int, n_samples: int, device: str | torch.device | None) -> Tensor:
    """Whisper's reference front end on one 1-D waveform."""
    return wa.log_mel_spectrogram(wa.pad_or_trim(wave, n_samples), n_mels, device=device)


def _check_inputs(
    waveforms: Sequence[np.ndarray | Tensor] | np.ndarray | Tensor, n_mels: int, n_samples: int
) -> list[Tensor]:
    """Validate arguments; return the waveforms as 1-D float32 CPU tensors."""
    if n_mels not in SUPPORTED_N_MELS:
        raise AudioInputError(
            f"n_mels must be 80 (Whisper tiny..large-v2) or 128 (large-v3, turbo), got "
            f"{n_mels!r}; use the model's dims.n_mels."
        )
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, int)
        or n_samples <= 0
        or n_samples % wa.HOP_LENGTH
    ):
        raise AudioInputError(
            f"n_samples must be a positive multiple of {wa.HOP_LENGTH}, got {n_samples!r}; "
            f"the default {wa.N_SAMPLES} is Whisper's 30 s window."
        )
    if isinstance(waveforms, (np.ndarray, Tensor)) and waveforms.ndim == 1:
        waveforms = [waveforms]
    if not isinstance(waveforms, (list, tuple)) or not waveforms:
        raise AudioInputError(
            "waveforms must be a non-empty list of 1-D 16 kHz waveforms; "
            "build one with load_audio_batch(...)."
        )
    out = []
    for i, w in enumerate(waveforms):
        rate = carried_rate(w)
        if rate is not None and rate != wa.SAMPLE_RATE:
            raise AudioInputError(
                f"waveform {i} is {rate} Hz audio but the log-mel needs {wa.SAMPLE_RATE} Hz; "
                "resample it with load_audio(audio), which returns 16 kHz."
            )
        t = torch.as_tensor(w).detach().cpu() if isinstance(w, (np.ndarray, Tensor)) else None
        if t is None or t.ndim != 1 or not t.is_floating_point() or t.numel() == 0:
            desc = f"shape {tuple(t.shape)}, dtype {t.dtype}" if t is not None else type(w).__name__
            raise AudioInputError(
                f"waveform {i} ({desc}) is not a non-empty 1-D float waveform; "
                "convert it with load_audio(...) first."
            )
        out.append(t.to(torch.float32))
    return out
