"""Finding the cross-attention heads whose DTW gives the best word timings, for any Whisper.

openai-whisper and HF time words by dynamic time warping over the mean cross-attention of a
fixed set of "alignment heads" (`whisper.timing.find_alignment`); OpenAI published sets for
its own checkpoints, and fine-tuned or distilled models have none. `find_alignment_heads`:

1. ranks every head on `clips` by how well it alone tracks the reference word starts
   (`head_timing.rank_cross_attention_heads`, reading the query that predicts each word's
   first token, as openai-whisper's alignment does);
2. for k = 1 .. `max_heads`, times the words of the `held_out` clips with openai-whisper's own
   `find_alignment` over the top-k heads, and keeps the k with the lowest mean start error:
   the set is chosen by what DTW over it does on clips it was not ranked on, not by per-head
   scores alone (heads that are good alone can be redundant or disagree together);
3. reports that set's held-out error next to the model's current heads' on the same clips.

The reported error was used to choose k, so it is optimistic by a little; for a number to
publish, time a third set of clips with `alignment_error(model, clips, heads)`. Reference
word times never come from the model (a pair set's TTS word times, or your own
`word,start,end` rows), which would make the search circular.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from whisper.timing import find_alignment

from hooked_audio.checks import check_count
from hooked_audio.constants import HOP_LENGTH
from hooked_audio.models.whisper.head_timing import TOLERANCE_S, rank_cross_attention_heads
from hooked_audio.word_times.timed_clip import TimedClip

Heads = list[tuple[int, int]]


def current_heads(model) -> Heads:
    """The model's alignment heads as (layer, head) pairs."""
    return [tuple(int(i) for i in pair) for pair in model.alignment_heads.indices().T.tolist()]


@contextmanager
def using_heads(model, heads: Heads | None):
    """The model's alignment heads set to `heads` inside the block (None: left as they are),
    restored after: what openai-whisper's word timing reads, changed for one alignment."""
    saved = current_heads(model)
    if heads is not None:
        model.set_alignment_heads(heads)
    try:
        yield
    finally:
        model.set_alignment_heads(saved)


def dtw_word_starts(model, clip: TimedClip, heads: Heads | None = None) -> np.ndarray:
    """openai-whisper's DTW word starts (seconds) of `clip`'s reference words, teacher-forced,
    over `heads` (default: the model's own); one per reference word."""
    tokenizer = model.tokenizer
    text = [t for word, _, _ in clip.words for t in tokenizer.encode(" " + word.strip())]
    mel = model.to_mel(clip.audio)[0]
    with using_heads(model, heads):
        timings = find_alignment(model, tokenizer, text, mel, len(clip.audio) // HOP_LENGTH)
    return _entry_starts([word for word, _, _ in clip.words], timings)


def _entry_starts(entries: list[str], timings) -> np.ndarray:
    """The start of each reference entry: that of the timed word holding the entry's first
    character. openai-whisper splits words its own way ("[adif]" -> "[", "adif]"; an entry
    may hold several words, "in the"), but the timed words spell the same text, so character
    offsets map one onto the other."""
    ends = np.cumsum([len(t.word) for t in timings])  # each timed word's end offset
    starts, offset = [], 0
    for entry in entries:
        text = " " + entry.strip()
        first = offset + 1  # the entry's first character, after its space
        starts.append(float(timings[int(np.searchsorted(ends, first, side="right"))].start))
        offset += len(text)
    if offset != ends[-1]:
        raise ValueError("openai-whisper's timed words do not spell the reference words.")
    return np.array(starts)


def alignment_error(model, clips: Sequence[TimedClip], heads: Heads | None = None) -> dict:
    """Word-start error of DTW over `heads` on `clips`: `mean_error_ms`, `within_100ms`
    (share of words) and `n_words`."""
    if not clips:
        raise ValueError("Give at least one clip with reference word times.")
    errors = np.concatenate(
        [
            np.abs(dtw_word_starts(model, clip, heads) - [s for _, s, _ in clip.words])
            for clip in clips
        ]
    )
    return {
        "mean_error_ms": float(errors.mean() * 1000),
        "within_100ms": float((errors <= TOLERANCE_S + 1e-9).mean()),
        "n_words": int(errors.size),
    }


@dataclass
class AlignmentHeadSearch:
    """`heads`: the chosen set; `table`: every head's own scores on the ranking clips;
    `sizes`: the held-out error of the top-k set for each k tried; `held_out` / `current`:
    the chosen set's and the model's current heads' error on the held-out clips."""

    heads: Heads
    table: pd.DataFrame
    sizes: pd.DataFrame
    held_out: dict
    current: dict

    def openai_dump(self, model) -> bytes:
        """openai-whisper's base85 form (as in `whisper._ALIGNMENT_HEADS`), for
        `model.set_alignment_heads` or openai-whisper's `Whisper.set_alignment_heads`."""
        mask = np.zeros((model.dims.n_text_layer, model.dims.n_text_head), dtype=bool)
        for layer, head in self.heads:
            mask[layer, head] = True
        return base64.b85encode(gzip.compress(mask.tobytes()))

    def hf_alignment_heads(self) -> list[list[int]]:
        """HF's `generation_config.alignment_heads`: `[[layer, head], ...]`."""
        return [[layer, head] for layer, head in self.heads]


def find_alignment_heads(
    model,
    clips: Sequence[TimedClip],
    held_out: Sequence[TimedClip],
    max_heads: int = 10,
) -> AlignmentHeadSearch:
    """See the module docstring. `clips` rank the heads, `held_out` choose how many of the best
    to keep (1 .. `max_heads`, at most the number of heads)."""
    check_count(max_heads, "max_heads")
    if not held_out:
        raise ValueError("Give held-out clips: the set size is chosen on clips not ranked on.")
    names = {c.name for c in clips} & {c.name for c in held_out}
    if names:
        raise ValueError(f"Clips {sorted(names)} are both ranked on and held out.")
    table = rank_cross_attention_heads(model, clips)
    ranked = list(zip(table["layer"].astype(int), table["head"].astype(int)))
    rows = []
    for k in range(1, min(max_heads, len(ranked)) + 1):
        rows.append({"n_heads": k, **alignment_error(model, held_out, ranked[:k])})
    sizes = pd.DataFrame(rows)
    best = int(sizes.loc[sizes["mean_error_ms"].idxmin(), "n_heads"])
    return AlignmentHeadSearch(
        heads=ranked[:best],
        table=table,
        sizes=sizes,
        held_out={k: v for k, v in rows[best - 1].items() if k != "n_heads"},
        current=alignment_error(model, held_out),
    )


__all__ = [
    "AlignmentHeadSearch",
    "alignment_error",
    "current_heads",
    "dtw_word_starts",
    "find_alignment_heads",
    "using_heads",
]
