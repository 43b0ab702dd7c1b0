"""The label builders against the clips' word times read directly: speech is a frame that
starts inside a word, the word at a frame is that word (normalised, kept when spoken in two
clips), the position in a word is its frame's third of the word's frames, the speaker is the
clip's."""

from __future__ import annotations

import numpy as np

from hooked_audio.probes import (
    ProbeLabels,
    position_in_word_labels,
    speaker_labels,
    word_labels,
)
from hooked_audio.probes.words import normalise_word
from tests.probes.synthetic_store import (
    SENTENCES,
    speech_clip,
    synthetic_store,
)


def words_of(clip: str):
    """The word times the synthetic clip was made with (tests/probes/synthetic_store.py)."""
    return [] if clip.startswith("silence") else SENTENCES[int(clip.split("-")[1]) % 4]


def word_at(clip: str, time_s: float):
    return next((w for w, start, end in words_of(clip) if start <= time_s < end - 1e-9), None)


def test_speech_and_word_labels_follow_the_word_times(store, speech):
    rows = store.frame(store.hooks[0])
    expected = [word_at(c, t) for c, t in zip(rows["clip"], rows["time_s"])]
    assert list(speech.values) == ["non-speech" if w is None else "speech" for w in expected]
    words = word_labels(store)
    assert list(words.values) == expected  # every word is in two clips at least
    assert words.classes == ["one", "three", "two"]
    only = word_labels(store, words=["One", "TWO,"])  # normalised before comparing
    assert set(only.values) == {None, "one", "two"}
    assert speech.counts()["speech"] == sum(w is not None for w in expected)


def test_position_in_word_is_the_frames_third_of_its_word(store):
    labels = position_in_word_labels(store)
    rows = store.frame(store.hooks[0])
    for clip in ("speech-0", "speech-1"):
        for word, start, end in words_of(clip):
            n = round((end - start) / 0.02)
            inside = ((rows["clip"] == clip) & rows["time_s"].between(start, end - 1e-9)).values
            assert inside.sum() == n
            fractions = (np.arange(n) + 0.5) / n
            expected = [
                "begin" if f < 1 / 3 else "end" if f > 2 / 3 else "middle" for f in fractions
            ]
            assert list(labels.values[inside]) == expected, (clip, word)
    assert (labels.values[rows["word"].isna().to_numpy()] == None).all()  # noqa: E711


def test_speaker_labels_are_the_clips_and_can_keep_to_speech(store):
    speakers = {"speech-0": "ann", "speech-1": "bob", "speech-2": "ann", "speech-3": "bob"}
    labels = speaker_labels(store, speakers)
    rows = store.frame(store.hooks[0])
    assert list(labels.values) == [speakers.get(c) for c in rows["clip"]]
    spoken = speaker_labels(store, speakers, speech_only=True)
    assert list(spoken.values) == [
        speakers.get(c) if isinstance(w, str) else None for c, w in zip(rows["clip"], rows["word"])
    ]


def test_labels_given_per_row_become_strings_with_none_left_out(store):
    rows = store.frame(store.hooks[0])
    values = [float("nan") if i % 3 == 0 else i % 2 for i in range(len(rows))]
    labels = ProbeLabels.from_rows("parity", rows, values)
    assert labels.classes == ["0", "1"]
    assert labels.labelled.sum() == len(rows) - len(range(0, len(rows), 3))


def test_words_in_one_clip_only_are_left_out(tmp_path):
    clips = [
        speech_clip("a", [("one", 0.2, 0.4), ("rare", 0.4, 0.6)], 1.0, seed=0),
        speech_clip("b", [("one", 0.2, 0.4), ("two", 0.4, 0.6)], 1.0, seed=1),
        speech_clip("c", [("two", 0.2, 0.4)], 1.0, seed=2),
    ]
    store = synthetic_store(tmp_path, clips)
    assert word_labels(store).classes == ["one", "two"]
    assert word_labels(store, min_clips=1).classes == ["one", "rare", "two"]
    assert normalise_word(" Paris, ") == "paris"
