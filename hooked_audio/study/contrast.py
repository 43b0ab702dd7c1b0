"""The default metric of a content minimal pair, derived from its text.

A content pair changes one word (`pair.differing_words = [clean_word, replacement]`, or read
from the two texts when they differ in exactly one word: `changed_word`). The
contrast the study measures is the decoder's choice at that word: teacher-force the clean
transcript up to the word, and take the logit difference between the first token of the
clean word and the first token of the replacement at the position that predicts it. Unlike
`hooked_audio.metrics.answer_from_transcripts`, this does not depend on what the model
happens to transcribe elsewhere in the clip (which can diverge earlier or later than the
changed word and so pick another contrast).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from hooked_audio.metrics import LogitDiff
from hooked_audio.models.whisper.transcript_diff import bare_word, changed_words
from hooked_audio.pairs import MinimalPair


@dataclass(frozen=True, eq=False)
class WordContrast:
    """Where a content pair's changed word is predicted, and the two competing tokens.

    `tokens [1, n]`: the start-of-transcript prefix and the clean transcript's tokens before
    the changed word; the logits at `position = n - 1` predict it. `correct` / `incorrect`:
    the first token of `" " + clean_word` / `" " + replacement`. `word_index`: the changed
    word's index among the clean text's words.
    """

    tokens: Int[Tensor, "1 n_tokens"]
    position: int
    correct: int
    incorrect: int
    clean_word: str
    replacement: str
    word_index: int

    def metric(self, per_example: bool = False) -> LogitDiff:
        """`logit[correct] - logit[incorrect]` at `position`: positive on the clean clip when
        the model hears the clean word."""
        return LogitDiff(self.position, self.correct, self.incorrect, per_example=per_example)


def text_words(text: str) -> list[str]:
    """The words of a transcript as the TTS times them: whitespace-separated, with leading and
    trailing punctuation kept on the word (`"summer."`)."""
    return text.split()


def _bare(word: str) -> str:
    return re.sub(r"^\W+|\W+$", "", word)


def changed_word(pair: MinimalPair) -> tuple[str, str, int]:
    """`(clean_word, replacement, index)` of a content pair: the changed word, what replaces it
    and its index among the clean text's words.

    Read from the two texts when they differ in exactly one word (a `differing_words` of
    `[clean]` or `[]` is then completed from them, and one of `[clean, replacement]` must agree
    with them); `differing_words = [clean, replacement]` alone when the texts do not tell (equal
    texts, or several changes of which this one is studied). Raises ValueError, showing both
    texts, otherwise."""
    given = [_bare(w) for w in pair.differing_words]
    changes = changed_words(pair.clean_text, pair.corrupt_text)
    one_word = len(changes) == 1 and len(changes[0].before) == len(changes[0].after) == 1
    texts = f"clean {pair.clean_text!r}, corrupt {pair.corrupt_text!r}"
    if one_word:
        change = changes[0]
        clean_word, replacement = _bare(change.before[0]), _bare(change.after[0])
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
        matches = [i for i, w in enumerate(words) if _bare(w).lower() == clean_word.lower()]
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


def word_contrast(model, pair: MinimalPair) -> WordContrast:
    """The contrast of a content pair on `model` (a `HookedWhisper`; see the module docstring).

    Raises ValueError for pairs that change no word or several (speaker and prosody pairs:
    give those a metric of your own, e.g. `KLDivergence` to the clean logits; see
    `changed_word`), and when both words start with the same token (no contrast at their
    first token)."""
    clean_word, replacement, index = changed_word(pair)
    words = text_words(pair.clean_text)
    before = " ".join(words[:index])
    prefix = model.start_tokens() + (model.tokenizer.encode(" " + before) if before else [])
    correct = model.tokenizer.encode(" " + _bare(words[index]))[0]
    incorrect = model.tokenizer.encode(" " + replacement)[0]
    if correct == incorrect:
        raise ValueError(
            f"Pair {pair.id!r}: {clean_word!r} and {replacement!r} start with the same token "
            f"({model.to_string([correct])!r}), so their first tokens do not contrast."
        )
    tokens = torch.tensor([prefix], device=model.device)
    return WordContrast(
        tokens, tokens.shape[1] - 1, correct, incorrect, clean_word, replacement, index
    )
