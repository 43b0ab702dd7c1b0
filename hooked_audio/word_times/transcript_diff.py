"""Which words of a transcript changed in another: `difflib` on the words, ignoring case and the
punctuation at their edges (Whisper moves a comma or a capital with the decoding context, which
is not a change of word)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from hooked_audio.word_times.matching import bare_word, strip_punctuation

__all__ = ["WordChange", "bare_word", "changed_words", "strip_punctuation"]


@dataclass(frozen=True)
class WordChange:
    """`before` (words of the first transcript, as written, from word `index` on) became
    `after` (words of the second); one side is empty for an insertion or a deletion."""

    index: int
    before: tuple[str, ...]
    after: tuple[str, ...]


def changed_words(before: str, after: str) -> list[WordChange]:
    """The word runs of `before` that differ in `after` (whitespace-separated words, compared
    by `bare_word`), in order."""
    old, new = before.split(), after.split()
    matcher = difflib.SequenceMatcher(
        None, [bare_word(w) for w in old], [bare_word(w) for w in new], autojunk=False
    )
    return [
        WordChange(i1, tuple(old[i1:i2]), tuple(new[j1:j2]))
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]
