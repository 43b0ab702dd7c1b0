"""Whisper's decoder as a source of per-token activations, for SAEs on decoder hooks.

Each window of each clip (30 s at most; longer clips are cut as the store cuts them) is decoded
greedily by the unedited model, then its own transcript is teacher-forced and the chosen
decoder hooks are read. The rows are the positions that predict the transcript: from the last
token of the start-of-transcript prefix (which predicts the first word) to the last text token
(which predicts the end of text), one per token, as `TranscriptLoss` scores them.
`padding=True` keeps every position, the whole prefix and the end-of-text token too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.activation_store.row_hooks import check_row_hooks
from hooked_audio.activation_store.window_rows import Window, in_batches, windows_of
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.whisper.transcript_loss import own_transcripts


@dataclass
class TokenRows:
    """One window's rows: `values[hook]` `[rows, features]` float32, one row per token
    position; `tokens` the input token at each row (as text)."""

    window: Window
    tokens: list[str]
    values: dict[str, np.ndarray]


class WhisperDecoderSource:
    """`model`'s decoder hooks (`decoder.blocks.{l}.hook_resid_post`, `...mlp.hook_post`, ...:
    any decoder hook whose second axis is the token position)."""

    def __init__(self, model, name: str = ""):
        self.model, self.name = model, name
        self.window_samples = model.window_samples

    def check_hooks(self, names: list[str]) -> None:
        check_row_hooks(names, self.model.hook_dict, "decoder.", "decoder")

    def features(self, hook: str) -> int:
        mel = self.model.to_mel(np.zeros(SAMPLE_RATE // 10, np.float32), sample_rate=SAMPLE_RATE)
        _, cache = self.model.run_with_cache(mel, self.model.to_tokens(""), names_filter=[hook])
        return int(cache[hook].flatten(2).shape[-1])

    @torch.no_grad()
    def rows(
        self, clips: Iterable[StoreClip], hooks: list[str], batch_size: int, padding: bool
    ) -> Iterator[TokenRows]:
        """Every window of every clip, `batch_size` windows decoded and teacher-forced at a
        time (module docstring for which positions are rows)."""
        windows = (w for clip in clips for w in windows_of(clip, self.window_samples))
        for batch in in_batches(windows, batch_size):
            yield from self._run(batch, hooks, padding)

    def _run(self, windows: list[Window], hooks: list[str], padding: bool) -> Iterator[TokenRows]:
        model = self.model
        mel = model.to_mel([torch.as_tensor(w.samples) for w in windows], sample_rate=SAMPLE_RATE)
        sequences, tokens, _ = own_transcripts(model, mel)
        n_start = len(model.start_tokens())
        _, cache = model.run_with_cache(mel, tokens.to(model.device), names_filter=hooks)
        for i, (window, sequence) in enumerate(zip(windows, sequences)):
            first, end = (0, len(sequence)) if padding else (n_start - 1, len(sequence) - 1)
            kept = sequence[first:end]
            yield TokenRows(
                window,
                [model.tokenizer.decode([t]) for t in kept],
                {h: cache[h][i, first:end].flatten(1).float().cpu().numpy() for h in hooks},
            )
