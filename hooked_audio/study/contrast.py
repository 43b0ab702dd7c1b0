"""The default metric of a content minimal pair, derived from its text.

A content pair changes one word (`pair.differing_words = [clean_word, replacement]`). The
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


def word_contrast(model, pair: MinimalPair) -> WordContrast:
    """The contrast of a content pair on `model` (a `HookedWhisper`; see the module docstring).

    Raises ValueError for pairs that change no word or several (speaker and prosody pairs:
    give those a metric of your own, e.g. `KLDivergence` to the clean logits), when the clean
    word cannot be found in the clean text, and when both words start with the same token
    (no contrast at their first token)."""
    if len(pair.differing_words) != 2:
        raise ValueError(
            f"Pair {pair.id!r} ({pair.kind}) changes {pair.differing_words or 'no word'}; "
            "the default metric needs one changed word (differing_words = [clean, "
            "replacement]). Pass a metric for this pair instead."
        )
    clean_word, replacement = pair.differing_words
    words = text_words(pair.clean_text)
    matches = [i for i, w in enumerate(words) if _bare(w).lower() == clean_word.lower()]
    if not matches:
        raise ValueError(
            f"Pair {pair.id!r}: the changed word {clean_word!r} is not a word of the clean text "
            f"{pair.clean_text!r}."
        )
    index = matches[0]
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
