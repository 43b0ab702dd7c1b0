"""A content minimal pair from two recordings, labelled by the model's own transcripts.

The study machinery (`hooked_audio.models.whisper.word_contrast`, `pair_cells`) works on a
`MinimalPair` whose clean text, changed word and word times are known. For a user's own two
clips they are read off openai-whisper's `transcribe` on the model: the clean clip's words
with word timestamps (or reference times the caller knows better), the corrupt clip's text,
and the one word in which the two differ.

openai-whisper's word timestamps come from DTW over cross-attention heads
(`hooked_audio.models.whisper.word_timing`: for tiny.en and base, heads found on recorded
speech), and on small models they can be off: on the bundled pairs' clean clips tiny.en places
"Paris" 1.06-1.24 s where it is spoken 0.93-1.31 s, and word cells inherit that error. So without
`clean_words`, the changed word's span is then read from the sound: where the two clips'
log-mels differ most near whisper's time for it (`hooked_audio.pairs.difference_span`), its
neighbours cut back to make room; whisper's times stay where nothing stands out. Pass
`clean_words` when the times are known (a pair set's manifest, a forced aligner).
"""

from __future__ import annotations

import torch
import whisper

from hooked_audio.audio import load_audio
from hooked_audio.constants import SAMPLE_RATE, SECONDS_PER_POSITION
from hooked_audio.models.whisper.inference import transcribe_options
from hooked_audio.models.whisper.word_timing import timed_words
from hooked_audio.pairs import MinimalPair
from hooked_audio.pairs.difference_span import difference_span, position_difference
from hooked_audio.patching.time_cells import speech_frames
from hooked_audio.word_times.matching import split_words
from hooked_audio.word_times.transcript_diff import changed_words, strip_punctuation


def _time_changed_word_by_sound(
    model, clean, corrupt, words: list[tuple[str, float, float]], changed: int, origin: str
) -> tuple[list[tuple[str, float, float]], str]:
    """`words` with entry `changed` moved to where the clips differ most near it, earlier
    entries ending and later ones starting outside it; unchanged (with the reason) when the
    difference has no clear peak or the neighbours would be left without a position."""
    n_positions = len(speech_frames(len(clean) / SAMPLE_RATE, model.dims.n_audio_ctx))
    difference = position_difference(model.to_mel(clean)[0], model.to_mel(corrupt)[0], n_positions)
    word, start, end = words[changed]
    span = difference_span(difference, (start, end))
    if span is None:
        return words, origin + "; the clips differ nowhere in particular near the word"
    new_start, new_end = span
    moved = list(words)
    moved[changed] = (word, new_start, new_end)
    for i in range(changed):
        other, other_start, other_end = moved[i]
        moved[i] = (other, other_start, min(other_end, new_start))
    for i in range(changed + 1, len(moved)):
        other, other_start, other_end = moved[i]
        moved[i] = (other, max(other_start, new_end), other_end)
    if any(e - s < SECONDS_PER_POSITION - 1e-9 for _, s, e in moved):
        return words, origin + "; the sound's span of the word overlaps its neighbours"
    return moved, (
        f"{origin}, {word!r} moved to where the clips differ "
        f"({new_start:.2f}-{new_end:.2f} s; whisper: {start:.2f}-{end:.2f} s)"
    )


def _replace_word(text: str, word: str, replacement: str) -> str:
    """`text` with its one occurrence of `word` (without case and edge punctuation) replaced."""
    words = text.split()
    found = [i for i, w in enumerate(words) if strip_punctuation(w).lower() == word.lower()]
    if len(found) != 1 or not replacement.strip() or len(replacement.split()) != 1:
        where = "does not occur" if not found else f"occurs {len(found)} times"
        raise ValueError(
            f"The change {word!r} -> {replacement!r} needs one word that occurs once in the "
            f"clean words {text!r} ({where if len(found) != 1 else 'bad replacement'}) and a "
            "one-word replacement."
        )
    words[found[0]] = replacement
    return " ".join(words)


def transcribed_pair(
    model,
    clean,
    corrupt,
    clean_words: list[tuple[str, float, float]] | None = None,
    pair_id: str = "pair",
    change: tuple[str, str] | None = None,
) -> MinimalPair:
    """The content pair of two equal-length clips (`Audio`, e.g. from `load_audio`; align two
    separate recordings first with `hooked_audio.corruptions.align_pair`).

    `clean_words`: `(word, start_s, end_s)` of the clean clip, in order (an entry may hold
    several words, e.g. `"in the"`); default: the model's transcript with openai-whisper's word
    timestamps. `clean_text` is the words joined by spaces, `meta["clean_words"]` their times,
    `differing_words` the clean word and its replacement without edge punctuation, `spans_s`
    the time of the entry holding the clean word, and `meta["changed_index"]` the changed
    word's index among the words of `clean_text`; `meta["word_times"]` says where the times
    came from. Raises ValueError unless the corrupt transcript differs from the clean words in
    exactly one word.

    `change=(word, replacement)` names the change instead of reading it off the corrupt clip's
    transcript (for when the model mishears it, e.g. tiny.en hears "dog along the" spoken as
    "cat along the" as "cataloging"): `word` must occur once among the clean words."""
    options = {**transcribe_options(model), "verbose": None}
    if clean_words is not None:
        words, origin = list(clean_words), "given"
    else:
        words, _, origin = timed_words(model, clean, **options)
    clean_text = " ".join(word.strip() for word, _, _ in words)
    if change is None:
        with torch.no_grad():
            corrupt_text = whisper.transcribe(model, corrupt, **options)["text"].strip()
    else:
        corrupt_text = _replace_word(clean_text, *change)
    changes = changed_words(clean_text, corrupt_text)
    if len(changes) != 1 or len(changes[0].before) != 1 or len(changes[0].after) != 1:
        found = "; ".join(f"{' '.join(c.before)!r} -> {' '.join(c.after)!r}" for c in changes)
        raise ValueError(
            f"The clean clip's words are {clean_text!r} and the corrupt clip transcribes as "
            f"{corrupt_text!r} ({found or 'no difference'}): a minimal pair here needs texts "
            "that differ in exactly one word, whose logit difference is measured. If the "
            "model mishears the corrupt clip, name the change: change=(word, replacement), "
            "or `hooked-audio patch --change WORD REPLACEMENT`."
        )
    change = changes[0]
    _, entry_of_word = split_words([word for word, _, _ in words])
    if clean_words is None:
        words, origin = _time_changed_word_by_sound(
            model, clean, corrupt, words, entry_of_word[change.index], origin
        )
    _, start, end = words[entry_of_word[change.index]]
    return MinimalPair(
        id=pair_id,
        kind="content",
        clean_text=clean_text,
        corrupt_text=corrupt_text,
        differing_words=[strip_punctuation(change.before[0]), strip_punctuation(change.after[0])],
        spans_s=[(start, end)],
        clean_audio=clean,
        corrupt_audio=corrupt,
        meta={
            "clean_words": [list(word) for word in words],
            "changed_index": change.index,
            "word_times": origin,
        },
    )


def warp_refusal(model, clean_path, corrupt_path, error: ValueError) -> tuple[str, str | None]:
    """Why a time-warped pair was refused, and the change that builds it anyway.

    When `corrupt_path` as recorded is heard one word from `clean_path`, the time warp onto the
    clean take changed what the model hears: the message says so, and the second value is that
    change as `"WORD REPLACEMENT"` (the warped clip keeps the recording's sounds on the clean
    take's timeline; the metric is read at the changed word as usual). Otherwise the message is
    the error's and the change None."""
    options = {**transcribe_options(model), "verbose": None}
    with torch.no_grad():
        texts = [
            whisper.transcribe(model, load_audio(path), **options)["text"].strip()
            for path in (clean_path, corrupt_path)
        ]
    changes = changed_words(*texts)
    if len(changes) != 1 or len(changes[0].before) != 1 or len(changes[0].after) != 1:
        return str(error), None
    word, replacement = (strip_punctuation(w) for w in (*changes[0].before, *changes[0].after))
    return (
        f"{error}\nAs recorded, {corrupt_path} is heard as {texts[1]!r}, one word from "
        f"{texts[0]!r}: the time warp of --align changed what the model hears.",
        f"{word} {replacement}",
    )
