"""`TranscriptLoss`: Whisper's decoder loss on clips' own transcripts, the language-modelling
loss an SAE's splice is judged by (how much worse the model predicts what it would have said
when an activation is replaced by its reconstruction)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from hooked_audio.audio import AudioLike, load_audio
from hooked_audio.models.whisper.inference import greedy_options


class TranscriptLoss:
    """The decoder's mean cross-entropy (nats per token) of each clip's greedy transcript, as
    the unedited `model` decodes it (fixed at construction), teacher-forced: the predicted
    tokens and the end of text, not the start-of-transcript prefix. Call it with the model (with
    SAEs spliced, hooks attached, ...) to score that model on the same clips and tokens. Clips
    are at most one window (30 s) each."""

    def __init__(self, model, clips: Sequence[AudioLike]):
        if not len(clips):
            raise ValueError("TranscriptLoss needs at least one clip.")
        audio = [getattr(c, "audio", c) for c in clips]  # StoreClip or audio
        waves = [load_audio(a) for a in audio]
        self.mel = model.to_mel(waves)
        with torch.no_grad():
            results = model.decode(self.mel, greedy_options(model))
        start, eot = model.start_tokens(), model.tokenizer.eot
        rows = [start + list(r.tokens) + [eot] for r in results]
        width = max(len(r) for r in rows)
        tokens = torch.full((len(rows), width), eot, dtype=torch.long)
        targets = torch.full((len(rows), width), -100, dtype=torch.long)  # -100: not scored
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = torch.tensor(row)
            targets[i, len(start) - 1 : len(row) - 1] = torch.tensor(row[len(start) :])
        self.tokens, self.targets = tokens, targets
        self.texts = [r.text for r in results]

    @torch.no_grad()
    def __call__(self, model) -> float:
        logits = model(self.mel.to(model.device), self.tokens.to(model.device))
        return float(
            F.cross_entropy(
                logits.float().flatten(0, 1),
                self.targets.to(model.device).flatten(),
                ignore_index=-100,
            )
        )
