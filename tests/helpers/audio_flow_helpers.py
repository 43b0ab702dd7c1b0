"""Helpers for the audio-flow and pair-set tests: a small HookedWhisper with Whisper's
30 s window, the bundled clip, and minimal pairs."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import torch
from whisper.model import ModelDimensions, Whisper

from hooked_audio.audio import Audio, load_audio
from hooked_audio.models.whisper import HookedWhisper
from hooked_audio.pairs import MinimalPair

SR = 16000


def window_whisper() -> HookedWhisper:
    """A random one-layer HookedWhisper whose audio window is the real 30 s (1500 positions),
    so `to_mel` / `to_frames` behave as for released checkpoints."""
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=8,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    torch.manual_seed(0)
    reference = Whisper(dims)
    with torch.no_grad():
        for param in reference.parameters():
            param.normal_(0.0, 0.02)
    return HookedWhisper.from_openai_state_dict(dims, reference.state_dict())


def jfk(seconds: float = 2.0) -> Audio:
    """The first `seconds` of the bundled speech clip, as 16 kHz `Audio`."""
    return load_audio(files("hooked_audio") / "data" / "jfk.flac")[: int(seconds * SR)]


def make_pair(pair_id: str = "p0", n: int = 8000, seed: int = 0) -> MinimalPair:
    """A custom pair of two short noise clips built from plain arrays."""
    rng = np.random.default_rng(seed)
    clean = (0.1 * rng.standard_normal(n)).astype(np.float32)
    corrupt = (0.1 * rng.standard_normal(n)).astype(np.float32)
    return MinimalPair(
        id=pair_id,
        kind="custom",
        clean_text="a",
        corrupt_text="b",
        differing_words=[],
        spans_s=[],
        clean_audio=clean,
        corrupt_audio=corrupt,
    )
