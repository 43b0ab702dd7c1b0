"""Word labels per stored row, from the store's `word` column (the clip's word at the row's
time, from its word times): which word is spoken at a frame, and where in its word the frame
lies. Rows outside any word are left out of both."""

from __future__ import annotations

import string
from collections.abc import Iterable

import numpy as np
import pandas as pd

from hooked_audio.checks import check_count
from hooked_audio.probes.labels import ProbeLabels
from hooked_audio.probes.store_rows import store_rows

#: `position_in_word_labels`' classes: the word's first, middle and last third of its frames
BEGIN, MIDDLE, END = "begin", "middle", "end"


def normalise_word(word: str) -> str:
    """Lower case, surrounding punctuation stripped ("Paris," and "paris" are one word)."""
    return word.strip().strip(string.punctuation).lower()


def word_labels(store, words: Iterable[str] | None = None, min_clips: int = 2) -> ProbeLabels:
    """The (normalised) word at each row; rows outside words are left out, and so are words
    spoken in fewer than `min_clips` clips (a word heard in one clip only is never both trained
    on and tested when clips are held out). `words`: keep only these words (normalised too)."""
    min_clips = check_count(min_clips, "min_clips")
    rows = store_rows(store)
    spoken = rows["word"].map(normalise_word, na_action="ignore")
    if words is not None:
        wanted = {normalise_word(str(w)) for w in ([words] if isinstance(words, str) else words)}
        missing = sorted(wanted - set(spoken.dropna()))
        if missing:
            raise ValueError(f"words {missing} are spoken in no stored row; check the spelling.")
        spoken = spoken.where(spoken.isin(wanted))
    clips_per_word = rows.groupby(spoken)["clip"].nunique()
    spoken = spoken.where(spoken.map(clips_per_word).fillna(0) >= min_clips)
    labels = ProbeLabels.from_rows("word", rows, spoken)
    labels.check_classes()
    return labels


def position_in_word_labels(store) -> ProbeLabels:
    """ "begin" / "middle" / "end" per row inside a word: a word's frames are the rows of one
    clip and window in a run with the same word, and frame `i` of `n` (its centre at fraction
    `(i + 0.5) / n` of the word) is in the first, middle or last third. Two neighbouring
    identical words with no gap read as one word (the store keeps the word, not its
    boundaries)."""
    rows = store_rows(store)
    word = rows["word"]
    # a new run starts where the clip, window or word changes (a null word ends a run)
    key = rows["clip"].astype(str) + "\0" + rows["window"].astype(str) + "\0" + word.fillna("\0")
    run = (key != key.shift()).cumsum()
    index_in_run = rows.groupby(run).cumcount().to_numpy()
    run_length = run.map(run.value_counts()).to_numpy()
    fraction = (index_in_run + 0.5) / run_length
    values = np.select([fraction < 1 / 3, fraction > 2 / 3], [BEGIN, END], MIDDLE).astype(object)
    values[word.isna().to_numpy()] = None
    labels = ProbeLabels.from_rows("position in word", rows, pd.Series(values))
    labels.check_classes()
    return labels
