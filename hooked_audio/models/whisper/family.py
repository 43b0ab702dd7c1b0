"""Whisper as the application layer sees it (`hooked_audio.models.family.ModelFamily`).

The audio stream is the encoder (input: framed log-mel of the 30 s window, position = 20 ms
frame) with the contrast's prefix tokens bound on the decoder; a pair's default metric is the
decoder's first-token logit difference at the changed word (`word_contrast`); transcripts are
openai-whisper's greedy decoding. Whisper also has the decoder's cross-attention heads to
study (`cross_heads`), on the decoder stream of a clip. A pair longer than the window is read
in the one window where its recordings differ (`long_pair.window_of_change`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import whisper
from torch import Tensor

from hooked_audio.models.family import FamilyBase, PairWindow
from hooked_audio.models.whisper.inference import GREEDY_DECODING, greedy_options
from hooked_audio.models.whisper.word_contrast import WordContrast, word_contrast
from hooked_audio.pairs.pair_set import MinimalPair

STACKS = ("audio", "text")


class WhisperFamily(FamilyBase):
    name = "Whisper"
    decoding = GREEDY_DECODING
    head_acts = ("encoder_heads", "cross_heads")

    @property
    def seconds_per_position(self) -> float:
        return self.model.window_seconds / self.model.dims.n_audio_ctx

    def audio_inputs(self, audio: Any) -> Tensor:
        return self.model.to_frames(audio)

    def pair_contrast(self, pair: MinimalPair) -> WordContrast:
        return word_contrast(self.model, pair)

    def pair_window(self, pair: MinimalPair) -> PairWindow:
        from hooked_audio.models.whisper.long_pair import window_of_change

        return window_of_change(pair, self.model.window_samples)

    def audio_stream(self, contrast: WordContrast):
        return self.model.encoder_stream(contrast.tokens)

    def text_stream(self, audio_input: Tensor):
        """The decoder as a stream view with `audio_input` (framed log-mel) bound: input the
        contrast's tokens. What the cross-attention head study patches."""
        return self.model.decoder_stream(audio_input)

    def transcribe(self, audios: Sequence[Any]) -> list[str]:
        if not audios:
            return []
        with torch.no_grad():
            results = whisper.decode(
                self.model, self.model.to_mel(list(audios)), greedy_options(self.model)
            )
        return [result.text.strip() for result in results]

    def layers(self, stack: str) -> int:
        dims = self.model.dims
        if stack not in STACKS:
            raise self.refuse_stack(stack, STACKS)
        return dims.n_audio_layer if stack == "audio" else dims.n_text_layer

    def heads(self, stack: str) -> int:
        dims = self.model.dims
        if stack not in STACKS:
            raise self.refuse_stack(stack, STACKS)
        return dims.n_audio_head if stack == "audio" else dims.n_text_head
