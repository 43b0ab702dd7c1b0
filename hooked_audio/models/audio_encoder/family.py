"""wav2vec2 / HuBERT with a CTC head as the application layer sees it
(`hooked_audio.models.family.ModelFamily`).

The audio stream is the whole encoder (input: framed waveform, position = 20 ms); a pair's
default metric is the CTC log-likelihood difference of its clean and corrupt transcripts
(`CTCContrast`); transcripts are greedy CTC decodes. The model needs its CTC head and its
characters (`model.tokenizer`, read from the checkpoint folder's vocab.json): an encoder
without them has no metric to study and is refused by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from hooked_audio.metrics.ctc import CTCLogLikelihoodDiff, ctc_positions_needed
from hooked_audio.models.audio_encoder.ctc_text import GREEDY_CTC_DECODING, CTCText
from hooked_audio.models.family import FamilyBase
from hooked_audio.pairs.changed_word import changed_word, text_words
from hooked_audio.pairs.pair_set import MinimalPair

STACKS = ("audio",)


@dataclass(frozen=True, eq=False)
class CTCContrast:
    """A content pair on a CTC model: the clean transcript and the same transcript with the
    changed word replaced, as label ids. Its metric is `log p(clean) - log p(corrupt)`."""

    metric_name = "CTC log-likelihood diff"
    clean_labels: Tensor
    corrupt_labels: Tensor
    blank: int
    clean_word: str
    replacement: str
    word_index: int

    def metric(self, per_example: bool = False) -> CTCLogLikelihoodDiff:
        return CTCLogLikelihoodDiff(
            self.clean_labels, self.corrupt_labels, self.blank, per_example=per_example
        )


class AudioEncoderFamily(FamilyBase):
    name = "wav2vec2 / HuBERT (CTC)"
    decoding = GREEDY_CTC_DECODING
    head_acts = ("encoder_heads",)

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        if model.unembed is None or model.tokenizer is None:
            lacks = (
                "CTC head" if model.unembed is None else "characters for its CTC head (vocab.json)"
            )
            raise ValueError(
                f"This {type(model).__name__} has no {lacks}: a study scores transcripts with "
                "the CTC head and its characters. Load a CTC checkpoint folder that holds the "
                "tokenizer's vocab.json (HookedAudioEncoder.from_pretrained), or set "
                "model.tokenizer = transformers.Wav2Vec2CTCTokenizer(...)."
            )
        self.text = CTCText(model.tokenizer)

    @property
    def seconds_per_position(self) -> float:
        return self.model.encoder_stream().seconds_per_position

    def audio_inputs(self, audio: Any) -> Tensor:
        return self.model.to_frames(audio).to(device=self.device, dtype=self.dtype)

    def pair_contrast(self, pair: MinimalPair) -> CTCContrast:
        clean_word, replacement, index = changed_word(pair)
        words = text_words(pair.clean_text)
        corrupt_text = " ".join([*words[:index], replacement, *words[index + 1 :]])
        try:
            clean, corrupt = self.text.labels(pair.clean_text), self.text.labels(corrupt_text)
        except ValueError as error:
            raise ValueError(f"Pair {pair.id!r}: {error}") from None
        n_positions = self.n_positions(pair.clean_audio)
        needed = max(ctc_positions_needed(clean), ctc_positions_needed(corrupt))
        if needed > n_positions:
            raise ValueError(
                f"Pair {pair.id!r}: its transcripts need {needed} CTC positions and the clip "
                f"has {n_positions}; it is too short to score them."
            )
        return CTCContrast(clean, corrupt, self.text.blank, clean_word, replacement, index)

    def audio_stream(self, contrast: CTCContrast):
        return self.model.encoder_stream()

    def transcribe(self, audios: Sequence[Any]) -> list[str]:
        view = self.model.encoder_stream()
        texts = []
        with torch.no_grad():
            for audio in audios:  # clips of any length, one at a time (no padding to mask)
                texts.append(self.text.transcribe(view(self.audio_inputs(audio))[0]))
        return texts

    def layers(self, stack: str) -> int:
        if stack not in STACKS:
            raise self.refuse_stack(stack, STACKS)
        return self.model.cfg.n_layers

    def heads(self, stack: str) -> int:
        if stack not in STACKS:
            raise self.refuse_stack(stack, STACKS)
        return self.model.cfg.n_heads
