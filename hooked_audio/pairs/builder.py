"""Minimal pairs from text: synthesise clean and corrupt speech that differ in one variable,
aligned in time so that 20 ms frames correspond.

- `speaker_pair`: same text, another voice (speaker identity).
- `content_pair`: same voice, one word different (content); the answer is that word.
- `prosody_pair`: same text and voice, another pitch (an attribute).

The corrupt side is synthesised separately, then warped onto the clean timeline with
`align_pair` (DTW on Whisper's log-mel); its alignment score travels with the pair (0 for
identical audio; see `align_pair` for the scale).
"""

from __future__ import annotations

import re
from typing import Optional

from hooked_audio.corruptions.align import align_pair
from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.pairs.tts import Speech, speak


def _aligned_pair(pair_id: str, kind: str, clean_text: str, corrupt_text: str, clean: Speech,
                  corrupt: Speech, differing: list[str], spans: list[tuple[float, float]],
                  answer: Optional[dict[str, str]], meta: dict) -> MinimalPair:
    aligned = align_pair(clean.audio, corrupt.audio)
    return MinimalPair(id=pair_id, kind=kind, clean_text=clean_text, corrupt_text=corrupt_text,
                       differing_words=differing, spans_s=spans, clean_audio=clean.audio,
                       corrupt_audio=aligned.warped, answer=answer,
                       alignment_score=aligned.score, meta=meta)


def speaker_pair(pair_id: str, text: str, voice: str = "en-us", other_voice: str = "en-us+f3",
                 **params) -> MinimalPair:
    """The same text in two voices (espeak-ng variants such as `en-us+f3`, `en-gb+m2`)."""
    if voice == other_voice:
        raise ValueError("A speaker pair needs two different voices.")
    clean, corrupt = speak(text, voice=voice, **params), speak(text, voice=other_voice, **params)
    return _aligned_pair(pair_id, "speaker", text, text, clean, corrupt, [], [], None,
                         {"voice": voice, "other_voice": other_voice, **params})


def prosody_pair(pair_id: str, text: str, pitch: int = 50, other_pitch: int = 80,
                 voice: str = "en-us") -> MinimalPair:
    """The same text and voice at two pitches (espeak-ng's 0-100 pitch scale)."""
    if pitch == other_pitch:
        raise ValueError("A prosody pair needs two different pitches.")
    clean, corrupt = speak(text, voice=voice, pitch=pitch), speak(text, voice=voice, pitch=other_pitch)
    return _aligned_pair(pair_id, "prosody", text, text, clean, corrupt, [], [], None,
                         {"voice": voice, "pitch": pitch, "other_pitch": other_pitch})


def content_pair(pair_id: str, text: str, word: str, other_word: str, voice: str = "en-us",
                 **params) -> MinimalPair:
    """`text` with `word` (clean) and with `other_word` in its place (corrupt). The answer is
    the pair of words with their leading space, as Whisper tokenises them mid-sentence."""
    matches = list(re.finditer(rf"\b{re.escape(word)}\b", text))
    if len(matches) != 1:
        raise ValueError(f"{word!r} must occur exactly once in the text as a whole word; "
                         f"found {len(matches)}.")
    if word == other_word:
        raise ValueError("A content pair needs two different words.")
    corrupt_text = text[:matches[0].start()] + other_word + text[matches[0].end():]
    clean, corrupt = speak(text, voice=voice, **params), speak(corrupt_text, voice=voice, **params)
    spans = [(start, end) for spoken, start, end in clean.words if spoken.strip(",.;:!?") == word]
    if not spans:
        raise ValueError(f"espeak-ng's word events do not contain {word!r}; use a plain word.")
    return _aligned_pair(pair_id, "content", text, corrupt_text, clean, corrupt,
                         [word, other_word], spans[:1],
                         {"correct": " " + word, "incorrect": " " + other_word},
                         {"voice": voice, **params})
