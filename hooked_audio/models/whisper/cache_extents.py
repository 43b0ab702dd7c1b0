"""The sizes of every Whisper hook for one input, for `run_with_cache`'s memory estimate."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from hooked_audio.cache_memory import StackExtent


def whisper_cache_extents(
    model: Any, audio: Any = None, tokens: Any = None
) -> dict[str, StackExtent] | None:
    """`{"encoder.": ..., "decoder.": ...}` for `model(audio, tokens)`: a log-mel
    `[batch, n_mels, mel_frames]` or frames `[batch, 2, n_mels, pos]`, and tokens `[batch, n]`
    (or `[n]`). None for inputs the forward itself will refuse."""
    if not isinstance(audio, Tensor) or audio.ndim not in (3, 4):
        return None
    n_audio = audio.shape[-1] if audio.ndim == 4 else audio.shape[-1] // 2
    n_tokens, token_batch = 0, 1
    if isinstance(tokens, Tensor) and tokens.ndim in (1, 2):
        n_tokens = tokens.shape[-1]
        token_batch = tokens.shape[0] if tokens.ndim == 2 else 1
    batch = max(audio.shape[0], token_batch)
    return {
        "encoder.": StackExtent.of(model.encoder.cfg, batch, n_audio, n_stem_pos=2 * n_audio),
        "decoder.": StackExtent.of(model.decoder.cfg, batch, n_tokens, n_cross_pos=n_audio),
    }
