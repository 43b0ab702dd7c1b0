"""Which decoder cross-attention heads track word timings: each head scored against reference
word start times that do not come from the model.

openai-whisper times words by DTW over the cross-attention of the model's `alignment_heads`;
scoring heads by agreement with those times would be circular. Here the reference is external
(a pair set's synthesised word times, or a listener's own word,start,end rows), and each head
is read directly:

1. Teacher-force the reference words themselves (`" " + word`, after the start-of-transcript
   prefix), so every reference word has its first token at a known position and no transcript
   has to be matched to the reference. This is what `whisper.timing.find_alignment` does with
   the text it is given.
2. For each word, take each head's cross-attention pattern (`decoder.blocks.{l}.cross_attn.
   hook_pattern`, `[batch, head, query_pos, key_pos]`) at one query position, over the 20 ms
   positions that hold the clip (the padding of the 30 s window is left out: heads park
   attention there). The word's estimated start is the start time of the position the head
   attends to most (`argmax / 50` s, as openai-whisper turns alignment indices into times).
3. Score the head by the mean absolute difference between estimated and reference starts, and
   by the share of words within 100 ms.

The query position: `"predicting"` (default) is the position whose logits predict the word's
first token, the token before it, as openai-whisper's alignment reads it; `"reading"` is the
word's first token itself. On tiny.en and the bundled pairs' clean clips (51 words) the
predicting query tracks starts far better: its best head, (2, 4), is off by 25 ms on average
with 98% of words within 100 ms, against 58 ms for the best reading head, (0, 4); the reading
query of most heads already looks at the next word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.patching.time_cells import speech_frames
from hooked_audio.word_times.timed_clip import TimedClip

QUERIES = ("predicting", "reading")

#: a word's estimated start counts as right within this many seconds
TOLERANCE_S = 0.1


def timed_clips(pairs: Iterable) -> list[TimedClip]:
    """The clean clip of each `MinimalPair` with its word times (`meta["clean_words"]`, which
    `hooked_audio.pairs` builders write); pairs without them are left out."""
    return [
        TimedClip(pair.id, pair.clean_audio, tuple(tuple(w) for w in pair.meta["clean_words"]))
        for pair in pairs
        if pair.meta.get("clean_words")
    ]


def teacher_forced_words(model, clip: TimedClip) -> tuple[list[int], list[int]]:
    """The teacher-forced tokens and the position of each word's first token."""
    tokens, first = list(model.start_tokens()), []
    for word, _, _ in clip.words:
        first.append(len(tokens))
        tokens += model.tokenizer.encode(" " + word.strip())
    if len(tokens) > model.dims.n_text_ctx:
        raise ValueError(
            f"Clip {clip.name!r}: its words make {len(tokens)} tokens, over the decoder's "
            f"{model.dims.n_text_ctx}; split the clip."
        )
    return tokens, first


def cross_attention_word_starts(model, clip: TimedClip, query: str = "predicting") -> pd.DataFrame:
    """Each head's estimated start of each reference word (see the module docstring): one row
    per (word, layer, head) with `clip`, `word_index`, `word`, `reference_start_s`, `layer`,
    `head`, `start_s` and `error_s = |start_s - reference_start_s|`."""
    if query not in QUERIES:
        raise ValueError(f"query must be one of {QUERIES}, got {query!r}.")
    tokens, first = teacher_forced_words(model, clip)
    queries = [p - 1 for p in first] if query == "predicting" else first
    n_positions = model.dims.n_audio_ctx
    seconds_per_position = model.window_seconds / n_positions
    n_speech = len(speech_frames(len(clip.audio) / SAMPLE_RATE, n_positions, seconds_per_position))
    names = [
        f"decoder.blocks.{layer}.cross_attn.hook_pattern"
        for layer in range(model.dims.n_text_layer)
    ]
    with torch.no_grad():
        _, cache = model.run_with_cache(
            model.to_mel(clip.audio),
            torch.tensor([tokens], device=model.device),
            names_filter=names,
        )
    # [layer, head, word]: the most attended position among the clip's own positions
    attended = torch.stack([cache[name][0][:, queries, :n_speech].argmax(-1) for name in names])
    starts = attended.cpu().numpy() * seconds_per_position
    layer, head, word = np.meshgrid(*(np.arange(n) for n in starts.shape), indexing="ij")
    reference = np.array([start for _, start, _ in clip.words])
    rows = pd.DataFrame(
        {
            "clip": clip.name,
            "word_index": word.ravel(),
            "word": [clip.words[i][0] for i in word.ravel()],
            "reference_start_s": reference[word.ravel()],
            "layer": layer.ravel(),
            "head": head.ravel(),
            "start_s": starts.ravel(),
        }
    )
    rows["error_s"] = (rows["start_s"] - rows["reference_start_s"]).abs()
    return rows


def rank_cross_attention_heads(
    model, clips: Sequence[TimedClip], query: str = "predicting"
) -> pd.DataFrame:
    """Every decoder cross-attention head ranked by how well it tracks word starts over
    `clips`: one row per (layer, head) with `mean_error_ms`, `median_error_ms`, `within_100ms`
    (share of words), `n_words` and `alignment_head` (whether openai-whisper's timing uses it:
    `model.alignment_heads`), sorted by mean error, best first; the index is the rank from 1."""
    if not clips:
        raise ValueError("Give at least one clip with reference word times.")
    words = pd.concat([cross_attention_word_starts(model, clip, query) for clip in clips])
    words["within"] = words["error_s"] <= TOLERANCE_S + 1e-9
    table = (
        words.groupby(["layer", "head"])
        .agg(
            mean_error_ms=("error_s", "mean"),
            median_error_ms=("error_s", "median"),
            within_100ms=("within", "mean"),
            n_words=("error_s", "size"),
        )
        .reset_index()
    )
    table[["mean_error_ms", "median_error_ms"]] *= 1000
    alignment = model.alignment_heads.to_dense().cpu().numpy()
    table["alignment_head"] = alignment[table["layer"], table["head"]]
    table = table.sort_values(["mean_error_ms", "layer", "head"], ignore_index=True)
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table
