"""The sizes of every `HookedAudioLM` hook for one input, for `run_with_cache`'s memory
estimate."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from hooked_audio.cache_memory import StackExtent


def audio_lm_cache_extents(
    model: Any, input_ids: Any = None, input_features: Any = None, **_: Any
) -> dict[str, StackExtent] | None:
    """`{"": language model, "audio_encoder.": tower, "projector.": projector}` for
    `model(input_ids, input_features, ...)`; the audio stacks only when features are given.
    None for inputs the forward itself will refuse."""
    if not isinstance(input_ids, Tensor) or input_ids.ndim not in (1, 2):
        return None
    cfg = model.config
    batch, n_pos = (1, input_ids.shape[0]) if input_ids.ndim == 1 else tuple(input_ids.shape)
    extents = {"": StackExtent.of(cfg.lm, batch, n_pos)}
    if isinstance(input_features, Tensor) and input_features.ndim in (2, 3):
        n_audio = 1 if input_features.ndim == 2 else input_features.shape[0]
        n_frames = cfg.audio_n_ctx
        extents["audio_encoder."] = StackExtent.of(
            cfg.audio, n_audio, n_frames, n_stem_pos=2 * n_frames
        )
        width = max(cfg.projector_stack * cfg.audio_d_model, cfg.d_model)
        extents["projector."] = StackExtent(
            n_audio, n_frames // cfg.audio_pool, width, cfg.n_heads, cfg.d_head, 0
        )
    return extents
