"""Text side of `HookedWhisper`: TransformerLens's `to_tokens` / `to_string` / `to_str_tokens` /
`to_single_token`, built on openai-whisper's own tokenizer (the reference, not rewritten)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Union

import torch
from jaxtyping import Int
from torch import Tensor
from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE, Tokenizer, get_tokenizer

TokensLike = Union[Tensor, Sequence[int], Sequence[Sequence[int]]]


@cache
def whisper_tokenizer(
    multilingual: bool, num_languages: int, language: str | None, task: str | None
) -> Tokenizer:
    return get_tokenizer(multilingual, num_languages=num_languages, language=language, task=task)


def normalise_language(language: str | None, multilingual: bool) -> str | None:
    """`"English"` / `"en"` -> `"en"`; None for English-only models. Clear error otherwise."""
    if not multilingual:
        if language not in (None, "en", "english", "English"):
            raise ValueError(
                f"This is an English-only (.en) model; it cannot take language={language!r}."
            )
        return None
    if language is None:
        return None
    code = language.lower()
    code = TO_LANGUAGE_CODE.get(code, code)
    if code not in LANGUAGES:
        raise ValueError(
            f"Unknown language {language!r}; use a code such as 'en' or 'de' "
            f"(see whisper.tokenizer.LANGUAGES)."
        )
    return code


class WhisperTokensMixin:
    """Needs `self.config.is_multilingual`, `self.num_languages`, `self.language`, `self.task`,
    `self.device`."""

    @property
    def tokenizer(self) -> Tokenizer:
        """openai-whisper's tokenizer for this model, language and task."""
        return whisper_tokenizer(
            self.config.is_multilingual, self.num_languages, self.language, self.task
        )

    def start_tokens(self, timestamps: bool = False) -> list[int]:
        """The start-of-transcript prefix: `<|sot|>` (+ language, task) (+ `<|notimestamps|>`)."""
        tok = self.tokenizer
        return list(tok.sot_sequence if timestamps else tok.sot_sequence_including_notimestamps)

    def to_tokens(
        self,
        text: str | Sequence[str],
        prepend_sot: bool = True,
        timestamps: bool = False,
        append_eot: bool = False,
    ) -> Int[Tensor, "batch pos"]:
        """Text (or a list of texts) -> decoder tokens `[batch, pos]` on the model's device.

        With `prepend_sot` (default) the model's start-of-transcript prefix comes first, as
        Whisper was trained (`<|startoftranscript|>` [`<|en|><|transcribe|>`] `<|notimestamps|>`).
        Whisper transcripts begin with a space (" And so my fellow Americans"). A batch of
        texts of different lengths is right-padded with `<|endoftext|>`.
        """
        texts = [text] if isinstance(text, str) else list(text)
        if not texts:
            raise ValueError("to_tokens got an empty list of texts.")
        tok = self.tokenizer
        prefix = self.start_tokens(timestamps) if prepend_sot else []
        rows = [prefix + tok.encode(t) + ([tok.eot] if append_eot else []) for t in texts]
        width = max(len(r) for r in rows)
        rows = [r + [tok.eot] * (width - len(r)) for r in rows]
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def to_string(self, tokens: TokensLike) -> str | list[str]:
        """Tokens -> text, special tokens included. `[batch, pos]` gives a list of strings."""
        tokens = torch.as_tensor(tokens)
        if tokens.ndim == 2:
            return [self.to_string(row) for row in tokens]
        return self.tokenizer.encoding.decode(tokens.tolist())

    def to_str_tokens(self, tokens: str | TokensLike, prepend_sot: bool = True) -> list[str]:
        """One string per token, for plot labels. Text is tokenised first (with the prefix)."""
        if isinstance(tokens, str):
            tokens = self.to_tokens(tokens, prepend_sot=prepend_sot)[0]
        tokens = torch.as_tensor(tokens)
        if tokens.ndim == 2:
            if tokens.shape[0] != 1:
                raise ValueError("to_str_tokens takes one sequence; index the batch first.")
            tokens = tokens[0]
        return [self.tokenizer.encoding.decode([t]) for t in tokens.tolist()]

    def to_single_token(self, string: str) -> int:
        """The id of a string that is exactly one token (special tokens such as `<|en|>`
        allowed)."""
        ids = self.tokenizer.encoding.encode(string, allowed_special="all")
        if len(ids) != 1:
            raise ValueError(
                f"{string!r} is {len(ids)} tokens, not one: {ids}. Whisper words "
                f"usually carry their leading space, e.g. ' country'."
            )
        return ids[0]
