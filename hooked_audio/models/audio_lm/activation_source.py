"""An audio-language model as a source of per-position activations, for SAEs on its language
model: each clip is put into a prompt by the model's processor, the model runs, and the chosen
hooks are read at the positions asked for.

`positions="audio"` reads the positions that hold the clip's audio embeddings (one per 40 ms on
Qwen2-Audio, 80 ms on Voxtral), `"text"` the prompt's other tokens, `"all"` both. Left padding
of a batch is never a row. A source has `check_hooks`, `features` and `rows`, which
`hooked_audio.sae.ActivationBatches.from_clips` reads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.activation_store.row_hooks import check_row_hooks
from hooked_audio.activation_store.window_rows import in_batches
from hooked_audio.constants import SAMPLE_RATE

POSITIONS = ("audio", "text", "all")


@dataclass
class PromptRows:
    """One clip's rows: `values[hook]` `[rows, features]` float32 at its prompt's `positions`
    (indices into the unpadded prompt)."""

    clip: StoreClip
    positions: np.ndarray
    values: dict[str, np.ndarray]


class AudioLMSource:
    """`model`'s language-model hooks (`blocks.{l}.hook_resid_post`, ...) for each clip in
    `prompt`: a text holding the processor's audio placeholder once (Qwen2-Audio), or a chat
    conversation whose one audio item (`{"type": "audio"}`) takes the clip (either
    architecture). `processor`: the model's HF processor, if `model.set_processor` was not
    called. See the module docstring for `positions`."""

    def __init__(
        self,
        model: Any,
        prompt: str | Sequence[dict],
        positions: str = "audio",
        processor: Any = None,
        name: str = "",
    ):
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}.")
        if not isinstance(prompt, str):
            items = [
                item
                for message in prompt
                for item in (message.get("content") if isinstance(message, dict) else None) or []
                if isinstance(item, dict) and item.get("type") == "audio"
            ]
            if len(items) != 1:
                raise ValueError(
                    f"A conversation prompt needs exactly one audio item "
                    f"({{'type': 'audio'}}) for the clip; it has {len(items)}."
                )
        self.model, self.prompt, self.positions = model, prompt, positions
        self.processor, self.name = processor, name

    def check_hooks(self, names: list[str]) -> None:
        check_row_hooks(names, self.model.hook_dict, "blocks.", "language model")

    def _inputs(self, clips: list[StoreClip]) -> dict:
        audio = [np.asarray(c.audio, np.float32) for c in clips]
        if isinstance(self.prompt, str):
            return self.model.prepare_inputs(
                text=[self.prompt] * len(clips),
                audio=audio,
                sampling_rate=SAMPLE_RATE,
                processor=self.processor,
            )
        chats = []
        for wave in audio:
            chat = copy.deepcopy(list(self.prompt))
            for message in chat:
                for item in message.get("content") or []:
                    if isinstance(item, dict) and item.get("type") == "audio":
                        item["audio"] = wave
            chats.append(chat)
        return self.model.prepare_inputs(
            conversation=chats, sampling_rate=SAMPLE_RATE, processor=self.processor
        )

    def _mask(self, inputs: dict) -> torch.Tensor:
        ids = inputs["input_ids"]
        present = inputs.get("attention_mask", torch.ones_like(ids)).bool()
        audio = self.model.audio_positions(ids)
        return {"audio": audio, "text": present & ~audio, "all": present}[self.positions]

    def features(self, hook: str) -> int:
        silence = StoreClip("silence", np.zeros(SAMPLE_RATE, np.float32), sample_rate=SAMPLE_RATE)
        return int(next(iter(self.rows([silence], [hook], 1, False))).values[hook].shape[-1])

    @torch.no_grad()
    def rows(
        self, clips: Iterable[StoreClip], hooks: list[str], batch_size: int, padding: bool
    ) -> Iterator[PromptRows]:
        """Each clip's rows at `positions`, `batch_size` clips per forward."""
        if padding:
            raise ValueError(
                "An audio LM's prompt has no padding positions to keep (a batch's left padding "
                "is never a row); choose positions='audio', 'text' or 'all' instead."
            )
        for batch in in_batches(clips, batch_size):
            yield from self._run(batch, hooks)

    def _run(self, clips: list[StoreClip], hooks: list[str]) -> Iterator[PromptRows]:
        inputs = self._inputs(clips)
        _, cache = self.model.run_with_cache(**inputs, names_filter=hooks)
        mask = self._mask(inputs).cpu()
        present = inputs.get("attention_mask", torch.ones_like(inputs["input_ids"])).bool().cpu()
        for i, clip in enumerate(clips):
            # indices within the unpadded prompt (a batch is padded on the left)
            offset = int((~present[i]).sum())
            where = mask[i].nonzero().flatten()
            yield PromptRows(
                clip,
                (where - offset).numpy(),
                {h: cache[h][i, where].flatten(1).float().cpu().numpy() for h in hooks},
            )
