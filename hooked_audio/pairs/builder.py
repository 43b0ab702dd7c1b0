"""Minimal pairs from text: synthesise clean and corrupt speech that differ in one variable,
aligned in time so that 20 ms frames correspond.

- `speaker_pair`: same text, another voice (speaker identity).
- `content_pair`: same voice, one word different (content); the answer is that word.
- `prosody_pair`: same text and voice, another pitch (an attribute).

The corrupt side is synthesised separately, then put onto the clean timeline:

- `alignment="words"` (default): every corrupt word, pause and the lead-in / tail is
  time-stretched (PSOLA, pitch kept) to exactly the clean one's sample span, using
  espeak-ng's word timings on both sides (`hooked_audio.pairs.word_alignment`). Word
  boundaries coincide to the sample; in a content pair the changed word fills exactly the
  clean word's frames.
- `alignment="dtw"`: `align_pair`'s frame-wise DTW warp on Whisper's log-mel (overlap-add
  of 20 ms windows; it can blur a consonant enough for tiny.en to mishear a word).

Either way `alignment_score` is `align_pair(clean, corrupt).score` of the *final* pair: the
mean RMS log-mel distance along the best DTW path, in Whisper's normalised log-mel units
(0 for identical audio; see `align_pair`). It mixes residual misalignment with what the
pair changes on purpose (a voice, a pitch, a word), so compare it between pairs of one
kind. `meta["timing_offset_ms"]` isolates the timing: the mean distance of that DTW path
from the diagonal, in ms, outside the differing word (+-0.1 s), where DTW has nothing to
match (a few ms for word-aligned pairs: DTW's own jitter on similar frames; a word that
sits elsewhere adds its shift). `meta["clean_words"]` holds espeak-ng's
`[word, start_s, end_s]` of the clean side; with word alignment the corrupt words sit on
the same samples, so these are word cells for both (`time_cells.spans`).
"""

from __future__ import annotations

import re

from hooked_audio.corruptions.align import align_pair
from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.pairs.tts import Speech, speak
from hooked_audio.pairs.word_alignment import merge_words, word_align

ALIGNMENTS = ("words", "dtw")
LEAD_S = 0.2  # silence before the speech: tiny.en often drops a first word that starts at 0 s


def _aligned_pair(
    pair_id: str,
    kind: str,
    clean_text: str,
    corrupt_text: str,
    clean: Speech,
    corrupt: Speech,
    differing: list[str],
    spans: list[tuple[float, float]],
    answer: dict[str, str] | None,
    meta: dict,
    alignment: str,
) -> MinimalPair:
    if alignment == "words":
        corrupt_audio = word_align(clean, corrupt)
    else:
        corrupt_audio = align_pair(clean.audio, corrupt.audio).warped
    final = align_pair(clean.audio, corrupt_audio)
    meta = {
        **meta,
        "alignment": alignment,
        "timing_offset_ms": round(final.offset_ms(exclude_s=_padded(spans)), 2),
        "clean_words": [[word, round(start, 4), round(end, 4)] for word, start, end in clean.words],
    }
    return MinimalPair(
        id=pair_id,
        kind=kind,
        clean_text=clean_text,
        corrupt_text=corrupt_text,
        differing_words=differing,
        spans_s=spans,
        clean_audio=clean.audio,
        corrupt_audio=corrupt_audio,
        answer=answer,
        alignment_score=final.score,
        meta=meta,
    )


def _padded(spans: list[tuple[float, float]], margin_s: float = 0.1) -> list[tuple[float, float]]:
    """The differing words' spans widened by `margin_s`: DTW cannot match a changed word
    frame by frame, and its path wanders off the diagonal around it."""
    return [(start - margin_s, end + margin_s) for start, end in spans]


def _check_alignment(alignment: str) -> None:
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}.")


def speaker_pair(
    pair_id: str,
    text: str,
    voice: str = "en-us",
    other_voice: str = "en-us+f3",
    alignment: str = "words",
    lead_s: float = LEAD_S,
    **params,
) -> MinimalPair:
    """The same text in two voices (espeak-ng variants such as `en-us+f3`, `en-gb+m2`).
    `params` go to `speak` (`rate`, `pitch`, `pitch_range`)."""
    _check_alignment(alignment)
    if voice == other_voice:
        raise ValueError("A speaker pair needs two different voices.")
    params["lead_s"] = lead_s
    clean, corrupt = speak(text, voice=voice, **params), speak(text, voice=other_voice, **params)
    return _aligned_pair(
        pair_id,
        "speaker",
        text,
        text,
        clean,
        corrupt,
        [],
        [],
        None,
        {"voice": voice, "other_voice": other_voice, **params},
        alignment,
    )


def prosody_pair(
    pair_id: str,
    text: str,
    pitch: int = 50,
    other_pitch: int = 80,
    voice: str = "en-us",
    alignment: str = "words",
    lead_s: float = LEAD_S,
) -> MinimalPair:
    """The same text and voice at two pitches (espeak-ng's 0-100 pitch scale)."""
    _check_alignment(alignment)
    if pitch == other_pitch:
        raise ValueError("A prosody pair needs two different pitches.")
    clean = speak(text, voice=voice, pitch=pitch, lead_s=lead_s)
    corrupt = speak(text, voice=voice, pitch=other_pitch, lead_s=lead_s)
    return _aligned_pair(
        pair_id,
        "prosody",
        text,
        text,
        clean,
        corrupt,
        [],
        [],
        None,
        {"voice": voice, "pitch": pitch, "other_pitch": other_pitch, "lead_s": lead_s},
        alignment,
    )


def content_pair(
    pair_id: str,
    text: str,
    word: str,
    other_word: str,
    voice: str = "en-us",
    alignment: str = "words",
    lead_s: float = LEAD_S,
    **params,
) -> MinimalPair:
    """`text` with `word` (clean) and with `other_word` in its place (corrupt). The answer is
    the pair of words with their leading space, as Whisper tokenises them mid-sentence.

    With word alignment the corrupt `other_word` (several words are joined into one piece)
    is stretched onto the clean `word`'s span, `spans_s[0]`. `params` go to `speak`."""
    _check_alignment(alignment)
    matches = list(re.finditer(rf"\b{re.escape(word)}\b", text))
    if len(matches) != 1:
        raise ValueError(
            f"{word!r} must occur exactly once in the text as a whole word; found {len(matches)}."
        )
    if word == other_word:
        raise ValueError("A content pair needs two different words.")
    if not other_word.strip():
        raise ValueError("other_word is empty; a content pair replaces a word by another.")
    corrupt_text = text[: matches[0].start()] + other_word + text[matches[0].end() :]
    params["lead_s"] = lead_s
    clean, corrupt = speak(text, voice=voice, **params), speak(corrupt_text, voice=voice, **params)
    index = [i for i, (spoken, _, _) in enumerate(clean.words) if spoken.strip(",.;:!?") == word]
    if not index:
        raise ValueError(f"espeak-ng's word events do not contain {word!r}; use a plain word.")
    n_other = len(other_word.split())
    if len(corrupt.words) != len(clean.words) + n_other - 1:
        raise ValueError(
            f"espeak-ng spoke {len(corrupt.words)} words for {corrupt_text!r} but "
            f"{len(clean.words)} for {text!r}; {other_word!r} must be spoken as "
            f"{n_other} word(s) (spell numbers and symbols out as words)."
        )
    corrupt = merge_words(corrupt, index[0], n_other)
    _, start, end = clean.words[index[0]]
    return _aligned_pair(
        pair_id,
        "content",
        text,
        corrupt_text,
        clean,
        corrupt,
        [word, other_word],
        [(start, end)],
        {"correct": " " + word, "incorrect": " " + other_word},
        {"voice": voice, **params},
        alignment,
    )
