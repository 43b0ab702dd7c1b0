"""Whisper's default metric of a content minimal pair: the decoder's choice at the changed word.

Teacher-force the clean transcript up to the changed word (`hooked_audio.pairs.changed_word`)
and take the logit difference between the first token of the clean word and the first token
of the replacement at the position that predicts it. Unlike `answer_from_transcripts`, this
does not depend on what the model happens to transcribe elsewhere in the clip (which can
diverge earlier or later than the changed word and so pick another contrast).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Int
from torch import Tensor

from hooked_audio.metrics.token_contrast import TokenContrast
from hooked_audio.pairs.changed_word import changed_word, text_words
from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.word_times.transcript_diff import strip_punctuation


@dataclass(frozen=True, eq=False)
class WordContrast(TokenContrast):
    """Where a content pair's changed word is predicted, and the two competing tokens.

    `tokens [1, n]`: the start-of-transcript prefix and the clean transcript's tokens before
    the changed word; the logits at `position = n - 1` predict it. `correct` / `incorrect`:
    the first token of `" " + clean_word` / `" " + replacement` (see `TokenContrast`).
    """

    tokens: Int[Tensor, "1 n_tokens"] = field(kw_only=True)


def first_token_contrast(
    tokenizer, prefix: list[int], pair: MinimalPair, to_string
) -> tuple[list[int], int, int, str, str, int]:
    """`(prefix + the clean words before the change, correct, incorrect, clean_word,
    replacement, word_index)` for a tokenizer with `encode(text) -> ids` whose words take a
    leading space (Whisper's byte-level BPE). Raises ValueError when both
    words start with the same token (no contrast at their first token)."""
    clean_word, replacement, index = changed_word(pair)
    words = text_words(pair.clean_text)
    before = " ".join(words[:index])
    ids = prefix + (list(tokenizer.encode(" " + before)) if before else [])
    correct = tokenizer.encode(" " + strip_punctuation(words[index]))[0]
    incorrect = tokenizer.encode(" " + replacement)[0]
    if correct == incorrect:
        raise ValueError(
            f"Pair {pair.id!r}: {clean_word!r} and {replacement!r} start with the same token "
            f"({to_string([correct])!r}), so their first tokens do not contrast."
        )
    return ids, correct, incorrect, clean_word, replacement, index


def word_contrast(model, pair: MinimalPair) -> WordContrast:
    """The contrast of a content pair on `model` (a `HookedWhisper`; see the module docstring).

    Raises ValueError for pairs that change no word or several (speaker and prosody pairs:
    give those a metric of your own, e.g. `KLDivergence` to the clean logits; see
    `hooked_audio.pairs.changed_word`), and when both words start with the same token."""
    ids, correct, incorrect, clean_word, replacement, index = first_token_contrast(
        model.tokenizer, model.start_tokens(), pair, model.to_string
    )
    tokens = torch.tensor([ids], device=model.device)
    return WordContrast(
        tokens.shape[1] - 1, correct, incorrect, clean_word, replacement, index, tokens=tokens
    )
