"""An audio LM (Qwen2-Audio, Voxtral) as the application layer sees it
(`hooked_audio.models.family.ModelFamily`).

The model is asked to transcribe: one user turn holding the clip and `INSTRUCTION`, then the
assistant's turn. A content pair's default metric is the language model's logit difference at
the first token where the clean and the corrupt transcripts part, teacher-forced with the
clean words before it (`PromptContrast`); the audio stream is the audio tower (input: framed
log-mel, position = 20 ms) with that prompt bound; transcripts are greedy generation after
the same prompt. An audio LM also has text positions beside the audio ones, so a study
measures its grounding coefficient (`hooked_audio.analysis.grounding`): does the answer come
from the audio positions or from the text?
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from hooked_audio.analysis.grounding import GroundingResult, grounding_coefficient
from hooked_audio.audio import frames_to_mel, mel_to_frames
from hooked_audio.constants import SAMPLE_RATE, SECONDS_PER_POSITION
from hooked_audio.metrics.answers import first_difference
from hooked_audio.metrics.token_contrast import TokenContrast
from hooked_audio.models.family import FamilyBase, PairWindow
from hooked_audio.pairs.changed_word import changed_word, text_words
from hooked_audio.pairs.pair_set import MinimalPair
from hooked_audio.word_times.transcript_diff import strip_punctuation

#: what the user turn asks of the model, after the clip
INSTRUCTION = "Transcribe the audio."
GREEDY_GENERATION = "greedy generation after the transcription prompt"
#: new tokens a transcript may take per second of audio (fast speech is about 4 words/s)
TOKENS_PER_SECOND = 10
STACKS = ("audio", "text")


@dataclass(frozen=True, eq=False)
class PromptContrast(TokenContrast):
    """A content pair on an audio LM: the prompt that asks for the transcript, teacher-forced
    up to where the clean and corrupt transcripts part, and the two competing tokens there
    (`TokenContrast`: the metric is their logit difference at `position`).

    `input_ids [1, n]` / `attention_mask`: the chat prompt (its audio placeholders sized for
    the longer of the two clips, so both are heard whole) and the clean transcript's tokens
    before the first token that differs; `position = n - 1`. `feature_attention_mask`: the
    valid mel frames the placeholders stand for (None where the architecture takes whole
    windows)."""

    input_ids: Int[Tensor, "1 n_tokens"] = field(kw_only=True)
    attention_mask: Int[Tensor, "1 n_tokens"] = field(kw_only=True)
    feature_attention_mask: Tensor | None = field(kw_only=True)

    def inputs(self, frames: Tensor) -> dict[str, Tensor]:
        """The keyword inputs of `model(...)` for a clip's audio-stream input (`frames`):
        what the grounding sweep patches between the clean and the corrupt clip."""
        inputs = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "input_features": frames_to_mel(frames),
        }
        if self.feature_attention_mask is not None:
            inputs["feature_attention_mask"] = self.feature_attention_mask
        return inputs


class AudioLMFamily(FamilyBase):
    decoding = GREEDY_GENERATION
    head_acts = ("encoder_heads",)
    seconds_per_position = SECONDS_PER_POSITION

    def __init__(self, model: Any, instruction: str = INSTRUCTION) -> None:
        super().__init__(model)
        if model.processor is None:
            raise ValueError(
                f"This {type(model).__name__} has no processor: a study builds its prompts and "
                "log-mel with it. Load the checkpoint folder with its processor files "
                "(HookedAudioLM.from_pretrained(<folder>)) or attach one with "
                "model.set_processor(<checkpoint dir>)."
            )
        features = model.processor.feature_extractor
        hop_seconds = features.hop_length / features.sampling_rate
        if features.sampling_rate != SAMPLE_RATE or not math.isclose(
            2 * hop_seconds, SECONDS_PER_POSITION
        ):
            raise ValueError(
                f"The processor's log-mel hops {features.hop_length} samples at "
                f"{features.sampling_rate} Hz ({hop_seconds * 1000:g} ms); a study places its "
                f"cells on the audio tower's {SECONDS_PER_POSITION * 1000:g} ms positions, two "
                f"10 ms hops at {SAMPLE_RATE} Hz (as Qwen2-Audio's and Voxtral's processors "
                "make). Use the checkpoint's own processor."
            )
        self.instruction = instruction
        self.name = f"audio LM ({model.config.arch.display_name})"

    def prompt(self, audios: Sequence[Any]) -> dict[str, Tensor]:
        """The model's keyword inputs for one transcription chat per clip (left-padded)."""
        chats = [
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "audio", "audio": audio},
                        {"type": "text", "text": self.instruction},
                    ],
                }
            ]
            for audio in audios
        ]
        return self.model.prepare_inputs(conversation=chats)

    def audio_inputs(self, audio: Any) -> Tensor:
        features = self.prompt([audio])["input_features"]
        if features.shape[0] != 1:
            raise ValueError(
                f"The clip fills {features.shape[0]} of the audio tower's windows; a study "
                "patches one window per clip. Trim the clip to one window."
            )
        return mel_to_frames(features)

    def pair_window(self, pair: MinimalPair) -> PairWindow:
        """The whole pair, once its clips fit one window of the audio tower; a longer pair is
        refused with why (the prompt holds the whole clip, and the study of a long recording's
        window of change is Whisper's long-form path)."""
        try:
            self.audio_inputs(pair.clean_audio)
        except ValueError as error:
            raise ValueError(
                f"Pair {pair.id!r}: {error} (a study reads a pair longer than one window only "
                "on Whisper, which patches the window of the change)"
            ) from None
        return PairWindow.whole(pair)

    def pair_contrast(self, pair: MinimalPair) -> PromptContrast:
        clean_word, replacement, index = changed_word(pair)
        words = text_words(pair.clean_text)
        before = words[:index]
        tokenizer = self.model.tokenizer
        clean, corrupt = (
            tokenizer.encode(" ".join([*before, word]), add_special_tokens=False)
            for word in (strip_punctuation(words[index]), replacement)
        )
        part = first_difference(clean, corrupt)
        if part is None or part >= min(len(clean), len(corrupt)):
            raise ValueError(
                f"Pair {pair.id!r}: the transcripts with {clean_word!r} and with "
                f"{replacement!r} do not part at a token both have (one's tokens start the "
                "other's), so no token contrasts them."
            )
        longer = max((pair.clean_audio, pair.corrupt_audio), key=len)
        prompt = self.prompt([longer])
        answer = torch.tensor([clean[:part]], dtype=torch.long, device=self.device)
        input_ids = torch.cat([prompt["input_ids"], answer], dim=1)
        attention_mask = torch.cat([prompt["attention_mask"], torch.ones_like(answer)], dim=1)
        return PromptContrast(
            input_ids.shape[1] - 1,
            clean[part],
            corrupt[part],
            clean_word,
            replacement,
            index,
            input_ids=input_ids,
            attention_mask=attention_mask,
            feature_attention_mask=prompt.get("feature_attention_mask"),
        )

    def audio_stream(self, contrast: PromptContrast):
        return self.model.audio_stream(
            contrast.input_ids,
            attention_mask=contrast.attention_mask,
            feature_attention_mask=contrast.feature_attention_mask,
        )

    def transcribe(self, audios: Sequence[Any]) -> list[str]:
        if not audios:
            return []
        longest = max(len(audio) for audio in audios) / SAMPLE_RATE
        texts = self.model.generate(
            **self.prompt(list(audios)),
            max_new_tokens=math.ceil(TOKENS_PER_SECOND * longest) + 8,
            return_type="str",
            progress=False,
        )
        return [text.strip() for text in texts]

    def layers(self, stack: str) -> int:
        if stack not in STACKS:
            raise self.refuse_stack(stack, STACKS)
        config = self.model.config
        return config.audio_n_layers if stack == "audio" else config.n_layers

    def heads(self, stack: str) -> int:
        if stack not in STACKS:
            raise self.refuse_stack(stack, STACKS)
        config = self.model.config
        return config.audio_n_heads if stack == "audio" else config.n_heads

    def grounding(
        self,
        contrast: PromptContrast,
        clean_audio: Any,
        corrupt_audio: Any,
        direction: str,
        tolerance: float = 0.05,
    ) -> GroundingResult:
        """The grounding coefficient of every language-model layer for the pair (its
        residual stream patched at the audio positions, the text positions, and both)."""
        clean = contrast.inputs(self.audio_inputs(clean_audio))
        corrupt = contrast.inputs(self.audio_inputs(corrupt_audio))
        return grounding_coefficient(
            self.model,
            clean,
            corrupt,
            contrast.metric(),
            direction=direction,
            tolerance=tolerance,
            progress=False,
        )
