"""Long recordings made from a short bundled pair: the pair placed `offset_s` into a recording
whose earlier part is the same filler in both takes, so the long pair must give what the short
pair gives, `offset_s` later (Whisper reads each 30 s window on its own)."""

from __future__ import annotations

import dataclasses

import numpy as np

from hooked_audio.audio import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.pairs import MinimalPair

#: where the pair starts in the long recording: the start of Whisper's second window
OFFSET_S = 30.0
#: the filler's one timed word (as the word times of a long recording would list it)
FILLER_WORD = ("earlier", 1.0, 1.4)


def filler(pair: MinimalPair, offset_s: float = OFFSET_S) -> np.ndarray:
    """`offset_s` of real speech before the pair: its clean clip, repeated."""
    return np.resize(np.asarray(pair.clean_audio), int(offset_s * SAMPLE_RATE)).astype(np.float32)


def embedded_pair(pair: MinimalPair, offset_s: float = OFFSET_S) -> MinimalPair:
    """`pair` `offset_s` into a recording whose first `offset_s` are the same in both takes
    (`filler`): texts, spans and word times shifted, one filler word timed before it."""
    before = filler(pair, offset_s)
    word, start, end = FILLER_WORD
    words = [[word, start, end]] + [
        [w, a + offset_s, b + offset_s] for w, a, b in pair.meta["clean_words"]
    ]
    return dataclasses.replace(
        pair,
        id=f"{pair.id}-at-{offset_s:g}s",
        clean_text=f"{word.capitalize()}. {pair.clean_text}",
        corrupt_text=f"{word.capitalize()}. {pair.corrupt_text}",
        spans_s=[(a + offset_s, b + offset_s) for a, b in pair.spans_s],
        clean_audio=Audio(np.concatenate([before, pair.clean_audio]), SAMPLE_RATE),
        corrupt_audio=Audio(np.concatenate([before, pair.corrupt_audio]), SAMPLE_RATE),
        meta={**pair.meta, "clean_words": words},
    )
