"""Load one audio clip as a float32 mono waveform at Whisper's 16 kHz.

Accepted inputs
---------------
* a path (``str`` or ``os.PathLike``) to anything libsndfile decodes
  (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...); the file's own rate is used.
* an :class:`~hooked_audio.audio.waveform.Audio` (what this function, the corruptions
  and the pair loaders return): it carries its rate, so ``sample_rate=`` may be omitted
  (if given it must match).
* any other waveform as a ``numpy.ndarray`` or ``torch.Tensor``, with ``sample_rate=``
  required. Shapes:

  - ``(n,)``: mono;
  - ``(n, channels)``: soundfile's layout;
  - ``(channels, n)``: torch/torchaudio's layout.

  For 2-D input the *smaller* axis is the channel axis and it must have at most
  8 entries (ties, e.g. ``(2, 2)``, are read as soundfile's ``(n, channels)``).
  Channels are downmixed by averaging.

  Float arrays are taken as samples in [-1, 1]. Integer PCM is scaled to that
  range: uint8 ``(x - 128) / 128``, int8 ``/ 128``, int16 ``/ 32768``,
  int32 ``/ 2**31``.

Resampling uses ``soxr`` (quality "HQ"), not torchaudio or librosa: soxr is what
librosa itself resamples with by default, it is a small self-contained wheel,
and it has no torch/torchaudio version coupling.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
import soxr
import torch

from hooked_audio.audio.checks import check_rate, check_samples
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio, carried_rate
from hooked_audio.constants import SAMPLE_RATE

AudioLike = Union[str, "os.PathLike[str]", np.ndarray, torch.Tensor]

MAX_CHANNELS = 8
_READABLE = (
    "WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF, CAF, W64/RF64 "
    "(full list: soundfile.available_formats())"
)
# Integer PCM dtypes: (offset, scale) such that float = (x - offset) / scale.
_PCM_SCALE = {
    np.dtype(np.uint8): (128.0, 128.0),
    np.dtype(np.int8): (0.0, 128.0),
    np.dtype(np.int16): (0.0, 32768.0),
    np.dtype(np.int32): (0.0, 2.0**31),
}


def load_audio(
    audio: AudioLike,
    sample_rate: int | None = None,
    *,
    target_rate: int = SAMPLE_RATE,
) -> Audio:
    """Return ``audio`` as a 1-D float32 mono :class:`Audio` at ``target_rate`` Hz.

    Args:
        audio: a file path, an :class:`Audio`, or a numpy/torch waveform (see the
            module docstring for accepted shapes and dtypes).
        sample_rate: the waveform's rate in Hz; required for plain arrays/tensors.
            For a path or an ``Audio`` it may be omitted (the file's or the
            ``Audio``'s rate is used); if given it must match.
        target_rate: output rate in Hz (Whisper wants 16000).

    Raises:
        AudioInputError: for any input that cannot be loaded (the message says
            how to fix it).

    Warns:
        UserWarning: if the peak amplitude exceeds 1.0 after dtype conversion,
            which usually means integer PCM was cast to float without scaling.
    """
    target_rate = check_rate(target_rate, "target_rate")
    if isinstance(audio, (str, os.PathLike)):
        samples, rate = _read_file(audio, sample_rate)
    elif isinstance(audio, (np.ndarray, torch.Tensor)):
        rate = _array_rate(audio, sample_rate)
        samples = _to_float_2d(_to_numpy(audio))
    else:
        raise AudioInputError(
            f"unsupported audio type {type(audio).__name__}; pass a file path, a numpy "
            "array or a torch tensor (for several clips use load_audio_batch([...]))."
        )

    check_samples(samples, "audio")
    peak = float(np.max(np.abs(samples)))
    if peak > 1.0:
        warnings.warn(
            f"audio peak amplitude is {peak:.4g} > 1.0; Whisper expects samples in "
            "[-1, 1]. If this is integer PCM cast to float, pass the integer array "
            "itself (it is scaled automatically) or divide by 32768 (int16).",
            stacklevel=2,
        )

    mono = samples.mean(axis=1, dtype=np.float32) if samples.shape[1] > 1 else samples[:, 0]
    if rate != target_rate:
        mono = soxr.resample(mono, rate, target_rate, quality="HQ")
    return Audio(np.ascontiguousarray(mono, dtype=np.float32), target_rate)


def _array_rate(audio: np.ndarray | torch.Tensor, sample_rate: int | None) -> int:
    """The rate of an array: the one an :class:`Audio` carries, else ``sample_rate=``."""
    carried = carried_rate(audio)
    if carried is None:
        if sample_rate is None:
            kind = "torch" if isinstance(audio, torch.Tensor) else "numpy"
            raise AudioInputError(
                f"this {kind} waveform has no sample rate; pass sample_rate= (e.g. "
                "load_audio(wave, sample_rate=44100)), or wrap it once as "
                "hooked_audio.audio.Audio(wave, sample_rate=44100)."
            )
        return check_rate(sample_rate, "sample_rate")
    if sample_rate is not None and check_rate(sample_rate, "sample_rate") != carried:
        raise AudioInputError(
            f"sample_rate={sample_rate} conflicts with the {carried} Hz this Audio carries; "
            "omit sample_rate (use target_rate= to choose the output rate)."
        )
    return carried


def _read_file(path: str | os.PathLike, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """Read a file with soundfile as float32 ``(n, channels)`` plus its rate."""
    if str(path).startswith(("http://", "https://", "ftp://")):
        raise AudioInputError(
            f"{str(path)!r} is a URL; the library reads local files. Download it first, e.g. "
            f"`curl -L -o clip.wav '{path}'`, and pass the file."
        )
    p = Path(path)
    if not p.is_file():
        what = "is a directory, not a file" if p.is_dir() else "does not exist"
        raise AudioInputError(f"audio file {str(p)!r} {what}; check the path.")
    try:
        samples, rate = sf.read(p, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioInputError(
            f"cannot decode audio file {str(p)!r} ({e}). soundfile reads {_READABLE}. "
            "Convert other formats (mp4, m4a, aac, webm, ...) with ffmpeg, e.g. "
            "`ffmpeg -i input.m4a -ac 1 -ar 16000 output.wav`."
        ) from e
    _check_wav_length(p, len(samples), samples.shape[1], rate)
    if sample_rate is not None and check_rate(sample_rate, "sample_rate") != rate:
        raise AudioInputError(
            f"sample_rate={sample_rate} conflicts with the {rate} Hz stored in {str(p)!r}; "
            "omit sample_rate for files (use target_rate= to choose the output rate)."
        )
    return samples, int(rate)


#: bytes per sample of the uncompressed WAV subtypes
_PCM_BYTES = {
    "PCM_U8": 1,
    "PCM_S8": 1,
    "PCM_16": 2,
    "PCM_24": 3,
    "PCM_32": 4,
    "FLOAT": 4,
    "DOUBLE": 8,
}


def _check_wav_length(path: Path, frames: int, channels: int, rate: int) -> None:
    """Refuse an uncompressed WAV whose header declares much less audio than the file holds
    (a recorder cut off before it finalised the header): read as the header says, the clip
    would be a fraction of itself, with no error."""
    info = sf.info(path)
    width = _PCM_BYTES.get(info.subtype)
    if info.format != "WAV" or width is None:
        return
    declared = frames * channels * width
    extra = path.stat().st_size - declared - 44  # 44: the smallest WAV header
    if extra > max(65536, 0.1 * declared):
        held = (path.stat().st_size - 44) / (channels * width * rate)
        raise AudioInputError(
            f"the WAV header of {str(path)!r} declares {frames / rate:.2f} s of audio, but the "
            f"file holds about {held:.2f} s of data: the header is wrong (a recording cut off "
            "before its header was written). Rewrite it, e.g. `sox --ignore-length in.wav "
            "out.wav`, and load the new file."
        )


def _to_numpy(audio: np.ndarray | torch.Tensor) -> np.ndarray:
    """Detach a tensor to numpy (floats as float32, since e.g. bfloat16 has no numpy dtype)."""
    if isinstance(audio, np.ndarray):
        return np.asarray(audio)
    t = audio.detach().cpu()
    if t.is_floating_point():
        t = t.to(torch.float32)
    elif t.is_complex():
        raise AudioInputError(
            f"audio dtype {t.dtype} is complex; pass real samples (e.g. wave.real)."
        )
    return t.numpy()


def _to_float_2d(x: np.ndarray) -> np.ndarray:
    """Scale to float32 in [-1, 1] and lay out as ``(n, channels)``."""
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
    elif x.dtype in _PCM_SCALE:
        offset, scale = _PCM_SCALE[x.dtype]
        x = ((x.astype(np.float64) - offset) / scale).astype(np.float32)
    else:
        raise AudioInputError(
            f"audio dtype {x.dtype} is not supported; pass float samples in [-1, 1] or "
            "integer PCM as uint8/int8/int16/int32 (e.g. wave.astype(np.float32))."
        )
    if x.ndim == 1:
        return x[:, None]
    if x.ndim != 2:
        raise AudioInputError(
            f"audio has {x.ndim} dimensions (shape {x.shape}); pass (n,), (n, channels) "
            "or (channels, n). For a batch, pass a list of clips to load_audio_batch."
        )
    if min(x.shape) > MAX_CHANNELS:
        raise AudioInputError(
            f"2-D audio of shape {x.shape} has no channel axis of size <= {MAX_CHANNELS}; "
            "pass (n, channels) or (channels, n). For a batch, pass a list of 1-D clips."
        )
    return x if x.shape[1] <= x.shape[0] else x.T
