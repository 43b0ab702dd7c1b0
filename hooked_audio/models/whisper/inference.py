"""openai-whisper's `transcribe` and `decode` on a `HookedWhisper`, with the two things they do
not check: audio files read without an ffmpeg binary, and the model's dtype.

openai-whisper reads a path with `whisper.audio.load_audio`, which runs the ffmpeg command line
tool. `HookedWhisper.transcribe(path)` reads it with this library's soundfile loader (the one
`model.to_mel` uses), falling back to ffmpeg for formats libsndfile cannot decode. For
`whisper.transcribe(model, path)` the read happens inside openai-whisper before the model is
involved; making a `HookedWhisper` therefore routes `whisper.audio.load_audio` through
`load_audio_ffmpeg_or_soundfile`, which calls openai-whisper's own loader whenever ffmpeg is
installed and reads with soundfile only when it is not (where openai-whisper would fail).

openai-whisper's decoding needs float32 weights with `fp16=False`, or float16 with `fp16=True`;
for anything else it *returns* a `TypeError` object that later fails as an unrelated
`AttributeError`. `decode` checks first and raises a `ValueError` with the fix.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import torch
import whisper.audio
from jaxtyping import Float
from torch import Tensor
from whisper.audio import SAMPLE_RATE
from whisper.decoding import DecodingOptions, DecodingResult
from whisper.decoding import decode as whisper_decode
from whisper.transcribe import transcribe as whisper_transcribe

from hooked_audio.audio import AudioInputError, load_audio

_OPENAI_LOAD_AUDIO = whisper.audio.load_audio


def read_audio_file(
    path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE
) -> Float[np.ndarray, " samples"]:
    """A mono float32 waveform at `sample_rate`: soundfile first, ffmpeg (openai-whisper's
    loader) for formats libsndfile cannot decode when ffmpeg is installed."""
    try:
        return load_audio(path, target_rate=sample_rate)
    except AudioInputError:
        if not os.path.isfile(path) or shutil.which("ffmpeg") is None:
            raise  # its message names the readable formats and the ffmpeg conversion
        return _OPENAI_LOAD_AUDIO(str(path), sample_rate)


def load_audio_ffmpeg_or_soundfile(
    file: str, sr: int = SAMPLE_RATE
) -> Float[np.ndarray, " samples"]:
    """openai-whisper's `load_audio` when the ffmpeg binary is installed; otherwise this
    library's soundfile loader (same output: mono float32 at `sr`)."""
    if shutil.which("ffmpeg") is not None:
        return _OPENAI_LOAD_AUDIO(file, sr)
    return read_audio_file(file, sr)


def install_ffmpeg_fallback() -> None:
    """Route `whisper.audio.load_audio` (what `whisper.transcribe` reads paths with) through
    `load_audio_ffmpeg_or_soundfile`. Idempotent; changes nothing where ffmpeg is installed."""
    if whisper.audio.load_audio is not load_audio_ffmpeg_or_soundfile:
        whisper.audio.load_audio = load_audio_ffmpeg_or_soundfile


#: how each surface's transcript is decoded, said beside it (one clip decoded two ways can read
#: differently: the long-form path's window handling is not a single greedy decode)
GREEDY_DECODING = "greedy, no timestamps (whisper.decode)"
TRANSCRIBE_DECODING = "whisper.transcribe at temperature 0, without the previous window's text"


def greedy_options(model: Any, max_tokens: int | None = None) -> DecodingOptions:
    """openai-whisper's greedy decoding without timestamps, in the model's language (English
    for `.en` models) and task, fp16 exactly when the model is float16; `max_tokens`
    (openai-whisper's `sample_len`) defaults to half the text context, its own default."""
    return DecodingOptions(
        task=model.task,
        language=model.language or "en",
        temperature=0.0,
        sample_len=max_tokens,
        without_timestamps=True,
        fp16=model.W_E.dtype == torch.float16,
    )


def transcribe_options(model: Any) -> dict[str, Any]:
    """Keyword arguments for greedy, deterministic `whisper.transcribe` in the model's language
    (English for `.en` models), task and dtype: temperature 0 without fallback to sampling,
    each window decoded without the previous one's text."""
    return {
        "language": model.language or "en",
        "task": model.task,
        "temperature": 0.0,
        "condition_on_previous_text": False,
        "fp16": model.W_E.dtype == torch.float16,
    }


def check_decoding_dtype(dtype: torch.dtype, fp16: bool | None = None) -> None:
    """Raise unless openai-whisper's decoding can run a model of `dtype` (with `fp16`, if
    given)."""
    if dtype not in (torch.float32, torch.float16):
        raise ValueError(
            f"openai-whisper's decoding (transcribe, decode) runs in float32 or float16; this "
            f"model is {dtype}. Call `model.float()` (or `model.half()` on a GPU) first; hooks "
            f"and run_with_cache work in {dtype} as they are."
        )
    expected = torch.float16 if fp16 else torch.float32
    if fp16 is not None and dtype != expected:
        raise ValueError(
            f"Decoding with fp16={fp16} needs a {expected} model; this one is {dtype}. Pass "
            f"fp16={dtype == torch.float16} or call `model.{'half' if fp16 else 'float'}()` "
            "(openai-whisper's transcribe turns fp16 off on CPU)."
        )


class WhisperInferenceMixin:
    """Needs `self.W_E` (its dtype is the model's)."""

    def decode(
        self,
        mel: Float[Tensor, "*batch n_mels mel_frames"],
        options: DecodingOptions | None = None,
        **kwargs: Any,
    ) -> DecodingResult | list[DecodingResult]:
        """openai-whisper's `decode` (`whisper.decode(model, mel, options)`), after checking
        that the model's dtype fits `options.fp16` (float32 needs `fp16=False`)."""
        options = options if options is not None else DecodingOptions()
        fp16 = kwargs.get("fp16", options.fp16)
        check_decoding_dtype(self.W_E.dtype, fp16)
        return whisper_decode(self, mel, options, **kwargs)

    def transcribe(
        self, audio: str | os.PathLike[str] | np.ndarray | Tensor, **kwargs: Any
    ) -> dict:
        """openai-whisper's `transcribe` (`whisper.transcribe(model, audio, ...)`, same keyword
        options). A path is read with soundfile (no ffmpeg needed for WAV, FLAC, OGG, MP3, ...);
        `fp16` defaults to whether the model is float16."""
        if isinstance(audio, (str, os.PathLike)):
            audio = read_audio_file(audio)
        check_decoding_dtype(self.W_E.dtype)
        kwargs.setdefault("fp16", self.W_E.dtype == torch.float16)
        return whisper_transcribe(self, audio, **kwargs)
