"""What the application layer (a study, its report, the page, the commands) needs of a model.

The engines in `hooked_audio.patching` need only stream views (`hooked_audio.streams`). A study
needs a few things more of a model: the stream whose positions are the audio's 20 ms frames,
a clip as that stream's input, a pair's default metric, and a transcript to show and to check
that the model hears the changed word. `ModelFamily` names them; each family implements it in
its own folder (`models/whisper/family.py`, `models/audio_encoder/family.py`,
`models/audio_lm/family.py`) and `model_family(model)` (`hooked_audio.models.loading`, beside
`load_model`, which import every family) finds the implementation for a model.
A family whose prompt mixes audio and text positions (an audio LM) is also a `GroundedFamily`:
a study then measures how much of each pair's answer comes from the audio positions.

A family the application does not yet serve is refused by `model_family` with what it is and
what is served, never run with another family's assumptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.streams.protocol import AudioStream


@runtime_checkable
class PairContrast(Protocol):
    """A content pair's default metric on one model: what tells the clean word from its
    replacement. `metric()` maps the audio stream's output to a scalar that is larger when the
    model hears the clean word (`per_example=True`: one value per row); `metric_name` names it
    in figures and the results table."""

    metric_name: str
    clean_word: str
    replacement: str
    word_index: int

    def metric(self, per_example: bool = False) -> Callable[[Tensor], Tensor]: ...


@dataclass(frozen=True)
class PairWindow:
    """The part of a pair that a family's audio stream reads, and where it lies in the
    recording.

    `pair`: a pair of at most one window of the model (its audio, texts, word times and spans
    in seconds of that window); the pair itself when the family reads it whole. `start_s` /
    `end_s`: the window's span in seconds of the recording, so that times read off `pair` map
    back by adding `start_s`. `window` / `n_windows`: which of the recording's windows it is,
    and how many the recording has (1: the pair fits one window, or the family reads clips of
    any length)."""

    pair: MinimalPair
    start_s: float
    end_s: float
    window: int = 0
    n_windows: int = 1

    @classmethod
    def whole(cls, pair: MinimalPair) -> PairWindow:
        """The pair read whole: one window from 0 to its length."""
        return cls(pair, 0.0, len(pair.clean_audio) / pair.clean_audio.sample_rate)


@runtime_checkable
class ModelFamily(Protocol):
    """A hooked model as the application layer sees it.

    `name`: the family in words, for reports. `decoding`: how `transcribe` decodes, in words
    (every surface that shows a transcript says it). `seconds_per_position`: the audio stream's
    position step. `head_acts`: the study's per-head activations it supports (of
    `hooked_audio.study.head_units.HEAD_STUDY_ACTS`).

    `audio_inputs(audio)`: a clip (an `Audio` or a 16 kHz waveform) as the audio stream's input,
    on the model's device, whose last axis is the position. `pair_contrast(pair)`: the pair's
    default metric, or ValueError saying why the pair has none on this model.
    `audio_stream(contrast)`: the stream view whose input is `audio_inputs(...)` and whose
    output `contrast.metric()` reads (the contrast binds the rest, e.g. Whisper's prefix
    tokens). `pair_window(pair)`: the part of a pair the audio stream reads (a `PairWindow`:
    the whole pair, or for a recording longer than the model's window the one window in which
    its clean and corrupt recordings differ), or ValueError saying why the pair cannot be
    read. `transcribe(audios)`: one transcript per clip. `layers(stack)` / `heads(stack)`:
    the depth and head count of a stack ("audio", or "text" where the family has a decoder the
    study patches); ValueError for a stack it lacks.
    """

    model: Any
    name: str
    decoding: str
    seconds_per_position: float
    head_acts: tuple[str, ...]

    def audio_inputs(self, audio: Any) -> Tensor: ...

    def pair_contrast(self, pair: MinimalPair) -> PairContrast: ...

    def pair_window(self, pair: MinimalPair) -> PairWindow: ...

    def audio_stream(self, contrast: PairContrast) -> AudioStream: ...

    def transcribe(self, audios: Sequence[Any]) -> list[str]: ...

    def layers(self, stack: str) -> int: ...

    def heads(self, stack: str) -> int: ...


@runtime_checkable
class GroundedFamily(Protocol):
    """A family whose language model reads audio and text positions side by side.

    `grounding(contrast, clean_audio, corrupt_audio, direction)`: the pair's grounding
    coefficient per language-model layer (a `hooked_audio.analysis.GroundingResult`);
    `layers("text")`: how many such layers there are."""

    def grounding(
        self, contrast: PairContrast, clean_audio: Any, corrupt_audio: Any, direction: str
    ) -> Any: ...


class FamilyBase:
    """What every family shares: the model's device and precision, moving it, and the audio
    stream's position count for a clip."""

    model: Any

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def parameter(self) -> torch.nn.Parameter:
        return next(self.model.parameters())

    @property
    def device(self) -> torch.device:
        return self.parameter.device

    @property
    def dtype(self) -> torch.dtype:
        return self.parameter.dtype

    def to(self, device: torch.device | str, dtype: torch.dtype) -> FamilyBase:
        """The family of this model moved (in place) to `device` in `dtype`."""
        self.model.to(device=device, dtype=dtype)
        return self

    def pair_window(self, pair: MinimalPair) -> PairWindow:
        """The whole pair: a family whose audio stream reads a clip of any length (wav2vec2's
        convolutional front end and encoder do) studies it all; a family with a fixed window
        overrides this."""
        return PairWindow.whole(pair)

    def n_positions(self, audio: Any) -> int:
        """How many positions the audio stream has for `audio` (padding included)."""
        return self.audio_inputs(audio).shape[-1]

    def refuse_stack(self, stack: str, stacks: Sequence[str]) -> ValueError:
        return ValueError(
            f"{self.name} has no {stack!r} stack to patch; its stacks are {tuple(stacks)}."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.model).__name__})"
