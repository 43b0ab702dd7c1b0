"""Input checks of `HookedAudioEncoder`: raw 16 kHz waveforms and their padding masks.

Every error names the problem and the fix. A 2-D input is `[batch, samples]`: `[2, n]` is a
batch of two clips, not a stereo clip; `[n, 2]` (a tiny last axis) is refused as channels-last
audio. The rate is 16 kHz: `sample_rate=` and a `hooked_audio.Audio`'s own rate are checked
when present, and a plain array or tensor without either is taken to be 16 kHz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from hooked_audio.audio.checks import check_rate
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.audio_encoder.config import HookedAudioEncoderConfig

#: a last axis this small on a 2-D input is a channel axis, not a clip
MAX_CHANNELS = 8


def _as_tensor(waveform: Any, what: str) -> Tensor:
    if isinstance(waveform, (str, Path)):
        raise TypeError(
            f"The {what} is a path ({str(waveform)!r}); the model takes samples. "
            "Load it first: `hooked_audio.load_audio(path)` gives 16 kHz mono."
        )
    if isinstance(waveform, np.ndarray):
        if not np.issubdtype(waveform.dtype, np.number) and waveform.dtype != np.bool_:
            raise TypeError(f"The {what} has numpy dtype {waveform.dtype}; pass float samples.")
        return torch.from_numpy(np.ascontiguousarray(waveform).view(np.ndarray))
    if not isinstance(waveform, Tensor):
        raise TypeError(
            f"The {what} must be a torch tensor or numpy array, got {type(waveform).__name__}."
        )
    return waveform


def check_sample_rate(waveform: Any, sample_rate: int | None) -> None:
    """Refuse a rate other than 16 kHz, given as `sample_rate=` or carried by the waveform
    (`hooked_audio.Audio.sample_rate`); both may be absent (the rate is then assumed)."""
    carried = getattr(waveform, "sample_rate", None)
    if sample_rate is not None:
        sample_rate = check_rate(sample_rate, "sample_rate")
        if carried is not None and carried != sample_rate:
            raise AudioInputError(
                f"sample_rate={sample_rate}, but the waveform carries sample_rate={carried}; "
                "drop the argument or pass the waveform's own rate."
            )
    rate = sample_rate if sample_rate is not None else carried
    if rate is not None and rate != SAMPLE_RATE:
        raise AudioInputError(
            f"The waveform is at {rate} Hz; wav2vec2 and HuBERT take {SAMPLE_RATE} Hz audio. "
            f"Resample first: `hooked_audio.load_audio(waveform, sample_rate={rate})` returns "
            f"{SAMPLE_RATE} Hz mono."
        )


def check_waveform(
    waveform: Any, cfg: HookedAudioEncoderConfig, sample_rate: int | None = None
) -> Float[Tensor, "batch samples"]:
    """A waveform `[samples]` or `[batch, samples]` (tensor, numpy array or
    `hooked_audio.Audio`), checked, as a float tensor `[batch, samples]`."""
    check_sample_rate(waveform, sample_rate)
    wave = _as_tensor(waveform, "waveform")
    if not torch.is_floating_point(wave):
        raise TypeError(
            f"The waveform has dtype {wave.dtype}; the model takes float samples in [-1, 1]. "
            "Scale integer PCM, e.g. `x.float() / 32768` for int16, or load the audio with "
            "`hooked_audio.load_audio`."
        )
    if wave.ndim not in (1, 2):
        raise AudioInputError(
            f"Expected a waveform of shape (samples,) or (batch, samples), got "
            f"{tuple(wave.shape)}. Drop channel axes (average channels: `x.mean(channel_axis)`)"
            " and stack clips of equal length on the first axis."
        )
    if wave.numel() == 0:
        raise AudioInputError(
            f"The waveform is empty (shape {tuple(wave.shape)}); pass at least "
            f"{cfg.receptive_field} samples per clip."
        )
    if wave.ndim == 2 and wave.shape[-1] <= MAX_CHANNELS < wave.shape[0]:
        raise AudioInputError(
            f"A waveform of shape {tuple(wave.shape)} looks like stereo / multi-channel audio "
            "laid out (samples, channels). The model takes mono (batch, samples): average the "
            "channels with `x.mean(-1)`."
        )
    if wave.ndim == 1:
        wave = wave[None]
    if wave.shape[-1] < cfg.receptive_field:
        raise AudioInputError(
            f"The waveform has {wave.shape[-1]} samples, shorter than one position: the conv "
            f"stack needs at least {cfg.receptive_field} samples "
            f"({1000 * cfg.receptive_field / SAMPLE_RATE:g} ms at {SAMPLE_RATE} Hz). "
            "Pad the clip with zeros."
        )
    bad = ~torch.isfinite(wave)
    if bad.any():
        raise AudioInputError(
            f"The waveform holds {int(bad.sum())} NaN or infinite samples; "
            "clean the audio (e.g. `torch.nan_to_num`) before the model."
        )
    return wave


def feature_mask(
    attention_mask: Any, wave: Tensor, cfg: HookedAudioEncoderConfig
) -> Bool[Tensor, "batch pos"] | None:
    """The per-position validity of a right-padded batch (True = a real position), from a
    sample-level `attention_mask [batch, samples]` of ones then zeros; None when nothing is
    padded. A clip of `n` real samples has `n_positions(n)` real positions, as in HF."""
    if attention_mask is None:
        return None
    mask = _as_tensor(attention_mask, "attention_mask").to(wave.device)
    if mask.ndim == 1:
        mask = mask[None]
    if tuple(mask.shape) != tuple(wave.shape):
        raise AudioInputError(
            f"attention_mask has shape {tuple(mask.shape)}, the waveform {tuple(wave.shape)}: "
            "give one 0/1 entry per sample (1 = real audio, 0 = padding)."
        )
    if not ((mask == 0) | (mask == 1)).all():
        raise AudioInputError("attention_mask must hold only 0 and 1 (1 = real audio).")
    mask = mask.long()
    if (mask[:, 1:] > mask[:, :-1]).any():
        raise AudioInputError(
            "attention_mask is not right-padded (a 1 follows a 0): put each clip's real samples "
            "first and the padding after them, as the HF feature extractor does."
        )
    lengths = mask.sum(-1)
    if int(lengths.min()) < cfg.receptive_field:
        raise AudioInputError(
            f"A clip in the batch has {int(lengths.min())} real samples, fewer than the "
            f"{cfg.receptive_field} one position needs. Drop it or pad it with real silence."
        )
    n_pos = cfg.n_positions(wave.shape[-1])
    valid_pos = torch.tensor([cfg.n_positions(int(n)) for n in lengths], device=wave.device)
    valid = torch.arange(n_pos, device=wave.device)[None] < valid_pos[:, None]
    return None if bool(valid.all()) else valid
