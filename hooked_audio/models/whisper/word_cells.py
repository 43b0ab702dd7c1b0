"""Word cells for encoder sweeps, timed by openai-whisper's own cross-attention alignment
(`whisper.timing.find_alignment`: DTW over the model's alignment heads)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from whisper.timing import find_alignment

from hooked_audio.constants import MEL_FRAMES_PER_SECOND
from hooked_audio.patching.time_cells import TimeCells, spans


def word_cells(
    model, mel: Tensor, text_tokens: Sequence[int], duration_s: float | None = None
) -> TimeCells:
    """One cell per word of `text_tokens` (the transcript's text tokens, no special tokens),
    timed by openai-whisper's cross-attention alignment on this model."""
    mel = model.to_mel_input(mel)
    if mel.shape[0] != 1:
        raise ValueError("Word alignment takes one clip (batch 1).")
    n_mel_frames = mel.shape[-1]
    if duration_s is not None:
        n_mel_frames = min(n_mel_frames, int(duration_s * MEL_FRAMES_PER_SECOND))
    with torch.no_grad():
        timings = find_alignment(model, model.tokenizer, list(text_tokens), mel[0], n_mel_frames)
    n_frames = model.dims.n_audio_ctx
    step = model.window_seconds / n_frames
    words_ = [w for w in timings if w.word.strip()]
    return spans(
        n_frames,
        [(w.start, max(w.end, w.start + step)) for w in words_],
        labels=[w.word.strip() for w in words_],
        seconds_per_frame=step,
    )
