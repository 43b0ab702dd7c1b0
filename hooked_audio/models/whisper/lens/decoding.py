"""openai-whisper's greedy decoding on given audio features, shared by the Whisper lenses.

`whisper.decode` skips the encoder when its input already has the shape of audio features
(last two axes `(n_audio_ctx, n_audio_state)`, see `DecodingTask._get_audio_features`), so a
lensed residual stream is decoded by openai-whisper's own loop, unchanged: its KV cache, its
suppressed tokens, its length limit. Teacher-forced scoring applies the same logit filters
to each position, so that "the greedy choice" means the same thing in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor
from whisper.decoding import DecodingOptions, DecodingResult, DecodingTask

from hooked_audio.models.whisper.inference import greedy_options


def lens_options(model: Any, max_tokens: int | None = None) -> DecodingOptions:
    """Greedy decoding without timestamps (`inference.greedy_options`)."""
    return greedy_options(model, max_tokens)


def window_mel(
    model: Any, audio: Any, sample_rate: int | None = None
) -> Float[Tensor, "1 n_mels mel_frames"]:
    """One 30 s window's log-mel from a path, a waveform, a log-mel `[1, n_mels, frames]` or
    framed log-mel `[1, 2, n_mels, pos]`."""
    if isinstance(audio, Tensor) and audio.ndim in (3, 4) and torch.is_floating_point(audio):
        mel = model.to_mel_input(audio.to(device=model.device, dtype=model.W_E.dtype))
    else:
        mel = model.to_mel(audio, sample_rate)
    if mel.shape[0] != 1:
        raise ValueError(
            f"The lens reads one window at a time; got a batch of {mel.shape[0]}. Pass "
            "`mel[i : i + 1]` for each window (`hooked-audio lens --chunk` does this)."
        )
    model.check_finite(mel)
    return mel


def greedy_decode(
    model: Any, features: Float[Tensor, "batch audio_pos d_model"], options: DecodingOptions
) -> list[DecodingResult]:
    """openai-whisper's decoding of audio features (the encoder is not run)."""
    expected = (model.dims.n_audio_ctx, model.dims.n_audio_state)
    if features.ndim != 3 or tuple(features.shape[1:]) != expected:
        raise ValueError(
            f"Audio features must be (batch, {expected[0]}, {expected[1]}), got "
            f"{tuple(features.shape)}."
        )
    return list(model.decode(features, options))


@dataclass
class TeacherForced:
    """Per target token: the greedy choice at its position and the target's log-prob."""

    predicted: Int[Tensor, " target"]
    log_probs: Float[Tensor, " target"]


def teacher_forced(
    model: Any,
    features: Float[Tensor, "1 audio_pos d_model"],
    targets: list[int],
    options: DecodingOptions,
) -> TeacherForced:
    """Run the decoder on the start-of-transcript prefix followed by `targets`; at each
    position that predicts a target, apply openai-whisper's logit filters for `options` (the
    suppressed tokens, a blank at the first position) as its greedy decoding does, and read
    the argmax and the log-prob of the target."""
    task = DecodingTask(model, options)
    prefix = list(task.initial_tokens)
    tokens = torch.tensor([prefix + list(targets)], device=features.device)
    logits = model.decoder(tokens, features)
    predicted, log_probs = [], []
    for i in range(len(prefix) - 1, tokens.shape[1] - 1):
        step = logits[:, i].clone()
        for logit_filter in task.logit_filters:
            logit_filter.apply(step, tokens[:, : i + 1])
        predicted.append(step.argmax(dim=-1)[0])
        log_probs.append(F.log_softmax(step.float(), dim=-1)[0, tokens[0, i + 1]])
    return TeacherForced(torch.stack(predicted).cpu(), torch.stack(log_probs).cpu())
