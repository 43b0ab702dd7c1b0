"""Text for a CTC head: a transcript as its character labels, and logits decoded greedily.

A wav2vec2 / HuBERT CTC checkpoint keeps its characters in `vocab.json` beside the weights,
read by transformers' `Wav2Vec2CTCTokenizer` (spaces become the word delimiter `|`, the pad
token is the CTC blank). Checkpoints write their characters in one case (upper case for the
English LibriSpeech ones); a transcript is put in that case, and a character the vocabulary
lacks is refused by name instead of silently becoming `<unk>`.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from hooked_audio.word_times.transcript_diff import strip_punctuation

#: how `CTCText.transcribe` decodes, in words (shown wherever its transcript is)
GREEDY_CTC_DECODING = "greedy CTC (argmax per 20 ms position, repeats merged, blanks dropped)"


def load_ctc_tokenizer(directory: str | Path) -> Any | None:
    """The `Wav2Vec2CTCTokenizer` saved beside a checkpoint (its `vocab.json`), or None."""
    path = Path(directory)
    if not (path / "vocab.json").is_file():
        return None
    from transformers import Wav2Vec2CTCTokenizer

    return Wav2Vec2CTCTokenizer.from_pretrained(str(path))


class CTCText:
    """A CTC tokenizer's characters: `labels(text)` and `transcribe(logits)`."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.blank = int(tokenizer.pad_token_id)
        letters = [token for token in tokenizer.get_vocab() if len(token) == 1 and token.isalpha()]
        self.case = (
            "upper"
            if letters and all(c.isupper() for c in letters)
            else "lower"
            if letters and all(c.islower() for c in letters)
            else None
        )

    def normalise(self, text: str) -> str:
        """The words of `text` without their edge punctuation, in the vocabulary's case."""
        text = " ".join(strip_punctuation(word) for word in text.split())
        if self.case == "upper":
            return text.upper()
        return text.lower() if self.case == "lower" else text

    def labels(self, text: str) -> Int[Tensor, " n"]:
        """The label ids of a transcript; ValueError naming any character the vocabulary
        lacks."""
        normalised = self.normalise(text)
        vocab = self.tokenizer.get_vocab()
        missing = sorted({c for c in normalised if c != " " and c not in vocab})
        if missing:
            raise ValueError(
                f"The CTC vocabulary has no {', '.join(repr(c) for c in missing)} (in "
                f"{normalised!r}); its characters are {''.join(sorted(vocab))!r}."
            )
        ids = self.tokenizer(normalised).input_ids
        if not ids:
            raise ValueError(f"The transcript {text!r} has no characters to score.")
        return torch.tensor(ids, dtype=torch.long)

    def transcribe(self, logits: Float[Tensor, "pos d_vocab"]) -> str:
        """Greedy CTC decoding of one clip's logits: repeats merged, then the blank and the
        other special tokens (`<s>`, `<unk>`, ...: no characters of the transcript) dropped,
        the word delimiter `|` kept as the space. Merged here because the tokenizer's
        `skip_special_tokens` drops blanks before it merges repeats, which would read
        "O O <pad> O" as one O, not two (and it drops the delimiter too)."""
        special = set(self.tokenizer.all_special_ids) - {self.tokenizer.word_delimiter_token_id}
        merged = [key for key, _ in itertools.groupby(logits.argmax(-1).tolist())]
        kept = [i for i in merged if i not in special]
        return self.tokenizer.decode(kept, group_tokens=False).strip()
