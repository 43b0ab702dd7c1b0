"""A minimal pair longer than Whisper's 30 s window, cut to the one window where it changes.

Whisper encodes each 30 s window on its own (`hooked_audio.models.whisper.long_form` says
why), so a change in one window can move only the metric read in that window. A study of a
long pair therefore patches that window alone: `window_of_change` finds it
(`differing_windows`) and cuts the pair to it, with the transcript cut by the word times
(the decoder is teacher-forced on the window's words before the changed one), the word times
and spans in seconds of the window, and the window's place in the recording, so every time the
study reports maps back to the recording by adding the window's start.
"""

from __future__ import annotations

import dataclasses

from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.family import PairWindow
from hooked_audio.models.whisper.long_form import LongClip, differing_windows
from hooked_audio.pairs.changed_word import changed_word
from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.word_times.transcript_diff import bare_word


def window_of_change(pair: MinimalPair, window_samples: int) -> PairWindow:
    """`pair` whole when it fits one window of `window_samples`; else the one window in which
    its clean and corrupt recordings differ, cut out (see the module docstring). Raises
    ValueError naming the pair and the fix when the recordings are the same samples, differ
    in more than one window, or the pair lacks the word times that cut its transcript."""
    if len(pair.clean_audio) <= window_samples:
        return PairWindow.whole(pair)
    clips = [LongClip(audio, window_samples) for audio in (pair.clean_audio, pair.corrupt_audio)]
    changed = differing_windows(*clips)  # a MinimalPair's two recordings have one length
    seconds = f"{clips[0].seconds:.2f} s"
    if not changed:
        raise ValueError(
            f"Pair {pair.id!r}: its clean and corrupt recordings ({seconds}) are the same "
            "samples, so there is no change to patch."
        )
    if len(changed) > 1:
        starts = ", ".join(f"{clips[0].window_start(w):g} s" for w in changed)
        raise ValueError(
            f"Pair {pair.id!r}: its recordings ({seconds}) differ in {len(changed)} of their "
            f"{clips[0].window_seconds:g} s windows (from {starts}); a study patches the one "
            "window of the change, whose transcript carries the metric. Change one word, or "
            "cut the recordings so that they differ in one window."
        )
    window = changed[0]
    start_s = clips[0].window_start(window)
    clean, corrupt = clips[0].window_audio(window), clips[1].window_audio(window)
    end_s = start_s + len(clean) / SAMPLE_RATE
    cut = _cut_pair(pair, start_s, end_s, f"window {window} ({start_s:g}-{end_s:.2f} s)")
    cut = dataclasses.replace(cut, clean_audio=clean, corrupt_audio=corrupt)
    return PairWindow(cut, start_s, end_s, window, clips[0].n_windows)


def _cut_pair(pair: MinimalPair, start_s: float, end_s: float, where: str) -> MinimalPair:
    """`pair`'s texts, word times and spans inside `start_s`-`end_s` of the recording, in
    seconds of that span (the audio is the caller's to cut). A word belongs to the window that
    holds its middle."""
    words = pair.meta.get("clean_words")
    if not words:
        raise ValueError(
            f"Pair {pair.id!r} is {len(pair.clean_audio) / SAMPLE_RATE:.2f} s long, over "
            f"Whisper's window: a study patches its {where}, and cuts the transcript to that "
            "window by the clean recording's word times, which the pair lacks "
            "(meta['clean_words']). Build it with word times (hooked_audio.pairs) or cut the "
            "recordings to the window of the change."
        )
    span = pair.spans_s[0] if pair.spans_s else None
    if span is None or not start_s <= span[0] < span[1] <= end_s:
        raise ValueError(
            f"Pair {pair.id!r}: its changed word's span {span} is not inside {where}, the one "
            "window where the recordings differ; check the pair's spans_s."
        )
    inside = [
        (label, a - start_s, b - start_s) for label, a, b in words if start_s <= (a + b) / 2 < end_s
    ]
    clean_word, replacement, _ = changed_word(pair)
    clean_words, corrupt_words = [], []
    changed_at = None
    for label, a, b in inside:
        for word in label.split():
            in_span = a < span[1] - start_s and b > span[0] - start_s
            if changed_at is None and in_span and bare_word(word) == bare_word(clean_word):
                changed_at = len(clean_words)
                corrupt_words.append(replacement)
            else:
                corrupt_words.append(word)
            clean_words.append(word)
    if changed_at is None:
        raise ValueError(
            f"Pair {pair.id!r}: no word of {where} at its changed word's span {span} is "
            f"{clean_word!r} (meta['clean_words'] and the texts disagree); check the word times."
        )
    meta = {
        **pair.meta,
        "clean_words": [[label, max(0.0, a), min(end_s - start_s, b)] for label, a, b in inside],
        "changed_index": changed_at,
        "window_start_s": start_s,
    }
    return dataclasses.replace(
        pair,
        clean_text=" ".join(clean_words),
        corrupt_text=" ".join(corrupt_words),
        differing_words=[clean_word, replacement],
        spans_s=[(a - start_s, b - start_s) for a, b in pair.spans_s if start_s <= a < b <= end_s],
        meta=meta,
    )
