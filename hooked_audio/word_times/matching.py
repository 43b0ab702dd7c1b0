"""Matching two word sequences that say (nearly) the same thing: reference words against a
model's transcript. `difflib` on words compared without case and edge punctuation, so that
"I'm" matches "i'm" and "Paris," matches "paris"; fillers a transcript leaves out ("uh", "um")
simply stay unmatched."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence


def strip_punctuation(word: str) -> str:
    """`"Americans,"` -> `"Americans"`: the punctuation at the edges stripped."""
    return re.sub(r"^\W+|\W+$", "", word)


def bare_word(word: str) -> str:
    """`"Americans,"` -> `"americans"`: what two words are compared by."""
    return strip_punctuation(word).lower()


def split_words(words: Sequence[str]) -> tuple[list[str], list[int]]:
    """Entries that may hold several words (`"in the"`) split into single words, with the index
    of the entry each came from."""
    single, entry = [], []
    for index, text in enumerate(words):
        for word in text.split():
            single.append(word)
            entry.append(index)
    return single, entry


def matched_words(reference: Sequence[str], hypothesis: Sequence[str]) -> list[tuple[int, int]]:
    """`(reference index, hypothesis index)` of the words the two sequences share, in order
    (single words; split multi-word entries first with `split_words`)."""
    matcher = difflib.SequenceMatcher(
        None, [bare_word(w) for w in reference], [bare_word(w) for w in hypothesis], autojunk=False
    )
    return [
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]


def check_words_match(
    words: Sequence[str], transcript: str, source: str, min_share: float = 0.5
) -> None:
    """ValueError unless at least `min_share` of `words` (reference words, e.g. a TextGrid's
    tier) are found, in order, in `transcript` (what the model hears): reference times of another
    recording, or of another sentence, would put every cell on the wrong word. The error names
    the first reference word that is not heard."""
    single, _ = split_words(words)
    heard = transcript.split()
    pairs = matched_words(single, heard)
    if len(pairs) >= min_share * len(single):
        return
    found = {r for r, _ in pairs}
    first = next(i for i in range(len(single)) if i not in found)
    raise ValueError(
        f"{source}: only {len(pairs)} of its {len(single)} words are heard in the clip (the model "
        f"transcribes {transcript.strip()!r}); the first missing is word {first + 1} "
        f"({single[first]!r}). Are these the word times of this recording?"
    )
