"""Interventions on a time span of one encoder hook, as forward hooks that openai-whisper's own
`transcribe` runs through: zero the span (ablation), or copy it from the run on another clip
(patching).

A span is written `HOOK@START-END`, e.g. `encoder.blocks.0.hook_resid_pre@1.76-2.26`: the
20 ms encoder positions from START to END seconds (first position `floor(START / 0.02)`, last
`ceil(END / 0.02) - 1`, as `hooked_audio.patching.time_cells` counts them). The hook must be an
encoder hook whose axis 1 is that position (`frame_axis_hooks`).

The positions are those of the window the encoder sees, so the hooks are correct only when the
clip is decoded as one window starting at 0 s (`whisper.transcribe` with
`without_timestamps=True` on audio of at most one window: see `hooked-audio transcribe`). The
source of a patch is encoded from the log-mel `whisper.transcribe` would give the encoder for
it (`transcribe_window_mel`), so patching a clip from itself changes nothing.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor
from whisper.audio import N_FRAMES, N_SAMPLES, log_mel_spectrogram, pad_or_trim

from hooked_audio.cache_memory import PATTERN_HOOKS
from hooked_audio.patching import time_cells

#: encoder hooks whose axis 1 is not the 20 ms position: the conv stem's first layer runs on
#: 10 ms mel frames
NOT_FRAME_AXIS = ("encoder.hook_conv1",)

SPAN_FORMAT = "HOOK@START-END in seconds, e.g. encoder.blocks.0.hook_resid_pre@1.76-2.26"

Hook = Callable[[Tensor, object], Tensor]


@dataclass(frozen=True)
class FrameSpan:
    """`hook` over the encoder positions from `start_s` to `end_s` seconds."""

    hook: str
    start_s: float
    end_s: float

    def __str__(self) -> str:
        return f"{self.hook}@{self.start_s:g}-{self.end_s:g}"


def parse_frame_span(text: str) -> FrameSpan:
    """`"HOOK@START-END"` -> `FrameSpan`; ValueError naming the format unless `0 <= START <
    END`, both finite numbers of seconds."""
    hook, at, span = text.rpartition("@")
    start, dash, end = span.partition("-")
    try:
        start_s, end_s = float(start), float(end)
    except ValueError:
        start_s = end_s = math.nan
    if not (hook and at and dash) or not (math.isfinite(start_s) and math.isfinite(end_s)):
        raise ValueError(f"{text!r} is not a span: write {SPAN_FORMAT}.")
    if not 0 <= start_s < end_s:
        raise ValueError(
            f"{text!r}: the span must start at 0 s or later and end after it starts "
            f"(START < END), got {start_s:g}-{end_s:g}."
        )
    return FrameSpan(hook, start_s, end_s)


def frame_axis_hooks(model) -> list[str]:
    """The encoder hooks of `model` whose axis 1 is the 20 ms position (`[batch, pos, ...]`):
    every encoder hook the forward computes (per-head `hook_result` only with
    `use_attn_result`) except the attention scores and patterns (`[batch, head, query_pos,
    key_pos]`) and the conv stem's first layer (10 ms mel frames)."""
    return [
        name
        for name in model.cached_names()
        if name.startswith("encoder.")
        and not name.endswith(PATTERN_HOOKS)
        and name not in NOT_FRAME_AXIS
    ]


def check_frame_hook(model, name: str) -> None:
    """ValueError unless `name` is one of `frame_axis_hooks(model)`, naming close matches."""
    valid = frame_axis_hooks(model)
    if name in valid:
        return
    if name.endswith("hook_result") and name in model.hook_dict:
        raise ValueError(
            f"{name!r} is computed only with use_attn_result on "
            "(model.set_use_attn_result(True)); use hook_z for per-head activations or "
            "hook_attn_out for the heads' sum."
        )
    if name in model.hook_dict:
        raise ValueError(
            f"{name!r} has no 20 ms position axis to cut a time span from: use an encoder "
            "hook of shape [batch, pos, ...], e.g. encoder.blocks.0.hook_resid_pre (not the "
            "attention patterns or scores, not hook_conv1, not the decoder)."
        )
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"{name!r} is not an encoder hook of this model.{hint} Names look like "
        "encoder.blocks.0.hook_resid_pre or encoder.blocks.2.mlp.hook_post."
    )


def span_positions(model, span: FrameSpan) -> list[int]:
    """The encoder positions `span` covers (positions = seconds * n_audio_ctx /
    window_seconds)."""
    n_positions = model.dims.n_audio_ctx
    if span.end_s > model.window_seconds:
        raise ValueError(
            f"{span}: ends after the encoder's {model.window_seconds:g} s window; a span must "
            "lie inside one window."
        )
    cells = time_cells.spans(
        n_positions,
        [(span.start_s, span.end_s)],
        seconds_per_frame=model.window_seconds / n_positions,
    )
    return cells.cells[0]


def zero_positions_hook(positions: list[int]) -> Hook:
    """A hook that sets the activation at `positions` (axis 1) to zero."""

    def hook(activation: Tensor, hook) -> Tensor:
        activation = activation.clone()
        activation[:, positions] = 0.0
        return activation

    return hook


def copy_positions_hook(source: Tensor, positions: list[int]) -> Hook:
    """A hook that replaces the activation at `positions` (axis 1) with `source`'s."""

    def hook(activation: Tensor, hook) -> Tensor:
        activation = activation.clone()
        activation[:, positions] = source[:, positions].to(activation.dtype)
        return activation

    return hook


def transcribe_window_mel(model, audio) -> Float[Tensor, "1 n_mels mel_frames"]:
    """The log-mel `whisper.transcribe` feeds the encoder for the window at 0 s of `audio` (a
    16 kHz waveform): one log-mel of the clip followed by 30 s of silence, cut to the clip's
    frames and padded with zeros in log-mel space (`pad_or_trim`). `model.to_mel` pads the
    waveform instead, which gives other values in the padding, and through self-attention
    slightly other activations everywhere."""
    mel = log_mel_spectrogram(np.asarray(audio), model.dims.n_mels, padding=N_SAMPLES)
    content_frames = mel.shape[-1] - N_FRAMES  # whisper.transcribe's count: less the padding
    window = pad_or_trim(mel[:, :content_frames], N_FRAMES)
    return window[None].to(device=model.device, dtype=model.W_E.dtype)


def intervention_hooks(
    model,
    ablate: Sequence[FrameSpan] = (),
    patch: Sequence[FrameSpan] = (),
    source: object | None = None,
) -> list[tuple[str, Hook]]:
    """Forward hooks (for `model.hooks(fwd_hooks=...)`) that zero each `ablate` span and copy
    each `patch` span from the run on `source` (a 16 kHz waveform, e.g. from `load_audio`). The
    source's activations come from one plain `run_with_cache` on `transcribe_window_mel(source)`
    (the decoder sees only the start-of-transcript tokens; the encoder does not read them)."""
    for span in (*ablate, *patch):
        check_frame_hook(model, span.hook)
    if patch and source is None:
        raise ValueError("Patching copies the span from another clip: give its audio (source).")
    hooks = [(span.hook, zero_positions_hook(span_positions(model, span))) for span in ablate]
    if patch:
        names = sorted({span.hook for span in patch})
        tokens = torch.tensor([model.start_tokens()], device=model.device)
        with torch.no_grad():
            _, cache = model.run_with_cache(
                transcribe_window_mel(model, source), tokens, names_filter=names
            )
        hooks += [
            (span.hook, copy_positions_hook(cache[span.hook], span_positions(model, span)))
            for span in patch
        ]
    return hooks
