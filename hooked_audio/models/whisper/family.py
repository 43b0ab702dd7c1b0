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

from hooked_audio.interventions import AblationSite
from hooked_audio.models.family import FamilyBase, PairWindow
from hooked_audio.models.whisper.hooked_transcriber import WhisperTranscriber
from hooked_audio.models.whisper.inference import GREEDY_DECODING, greedy_options
from hooked_audio.models.whisper.word_contrast import WordContrast, word_contrast
from hooked_audio.pairs.pair_set import MinimalPair

STACKS = ("audio", "text")
#: what an ablation study can ablate: {component: (stack, hook in each block, per head)}
ABLATION_COMPONENTS = {
    "encoder.heads": ("encoder", "attn.hook_z", True),
    "decoder.self_heads": ("decoder", "attn.hook_z", True),
    "decoder.cross_heads": ("decoder", "cross_attn.hook_z", True),
    "encoder.mlps": ("encoder", "hook_mlp_out", False),
    "decoder.mlps": ("decoder", "hook_mlp_out", False),
}


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

    ablation_components = tuple(ABLATION_COMPONENTS)

    def ablation_sites(
        self, component: str, layers: Sequence[int] | None = None
    ) -> list[AblationSite]:
        """Every head (or block, for MLPs) of `component` at `layers` (default: all)."""
        if component not in ABLATION_COMPONENTS:
            raise ValueError(
                f"Whisper has no component {component!r} to ablate; choose from "
                f"{self.ablation_components}."
            )
        stack, hook, per_head = ABLATION_COMPONENTS[component]
        depth = self.layers("audio" if stack == "encoder" else "text")
        heads = self.heads("audio" if stack == "encoder" else "text")
        chosen = range(depth) if layers is None else layers
        bad = [layer for layer in chosen if not 0 <= layer < depth]
        if bad:
            raise ValueError(f"{component}: layers {bad} are outside 0..{depth - 1}.")
        return [
            AblationSite(component, layer, head, f"{stack}.blocks.{layer}.{hook}")
            for layer in chosen
            for head in (range(heads) if per_head else [None])
        ]

    def transcriber(self, audios: Sequence[Any], batch_size: int = 16) -> WhisperTranscriber:
        """Greedy transcripts of `audios` under given hooks, reusing the encoder's outputs when
        the hooks leave the encoder alone (`WhisperTranscriber`)."""
        return WhisperTranscriber(self.model, audios, batch_size)

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
