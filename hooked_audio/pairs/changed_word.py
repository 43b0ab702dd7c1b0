"""Which word a content minimal pair changes, read from its texts.

A content pair changes one word (`pair.differing_words = [clean_word, replacement]`, or read
from the two texts when they differ in exactly one word). Every model family's default
contrast starts here: Whisper's and the audio LMs' first-token logit difference at the word,
and the CTC encoders' log-likelihood difference of the two transcripts.
"""

from __future__ import annotations

from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.word_times.transcript_diff import bare_word, changed_words, strip_punctuation


def text_words(text: str) -> list[str]:
    """The words of a transcript as the TTS times them: whitespace-separated, with leading and
    trailing punctuation kept on the word (`"summer."`)."""
    return text.split()


def changed_word(pair: MinimalPair) -> tuple[str, str, int]:
    """`(clean_word, replacement, index)` of a content pair: the changed word, what replaces it
    and its index among the clean text's words.

    Read from the two texts when they differ in exactly one word (a `differing_words` of
    `[clean]` or `[]` is then completed from them, and one of `[clean, replacement]` must agree
    with them); `differing_words = [clean, replacement]` alone when the texts do not tell (equal
    texts, or several changes of which this one is studied). Raises ValueError, showing both
    texts, otherwise."""
    given = [strip_punctuation(w) for w in pair.differing_words]
    changes = changed_words(pair.clean_text, pair.corrupt_text)
    one_word = len(changes) == 1 and len(changes[0].before) == len(changes[0].after) == 1
    texts = f"clean {pair.clean_text!r}, corrupt {pair.corrupt_text!r}"
    if one_word:
        change = changes[0]
        clean_word, replacement = (
            strip_punctuation(change.before[0]),
            strip_punctuation(change.after[0]),
        )
        expected = [clean_word, replacement][: len(given)]
        if [bare_word(w) for w in given] != [bare_word(w) for w in expected]:
            raise ValueError(
                f"Pair {pair.id!r}: differing_words {pair.differing_words} disagrees with its "
                f"texts ({texts}), which change {clean_word!r} to {replacement!r}. Fix "
                "differing_words or the texts."
            )
        return clean_word, replacement, change.index
    if len(given) == 2:
        clean_word, replacement = given
        words = text_words(pair.clean_text)
        matches = [
            i for i, w in enumerate(words) if strip_punctuation(w).lower() == clean_word.lower()
        ]
        if not matches:
            raise ValueError(
                f"Pair {pair.id!r}: the changed word {clean_word!r} is not a word of the clean "
                f"text {pair.clean_text!r}."
            )
        return clean_word, replacement, matches[0]
    found = (
        "have the same words"
        if not changes
        else "differ by "
        + "; ".join(f"{' '.join(c.before) or '-'} -> {' '.join(c.after) or '-'}" for c in changes)
    )
    raise ValueError(
        f"Pair {pair.id!r} ({pair.kind}): the default metric needs one changed word, and its "
        f"texts ({texts}) {found} (differing_words {pair.differing_words or 'empty'}). "
        "Give a pair whose texts differ in one word, or pass a metric for this pair instead "
        "(e.g. KLDivergence to the clean logits)."
    )
