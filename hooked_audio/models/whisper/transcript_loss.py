"""`TranscriptLoss`: Whisper's decoder loss on clips' own transcripts, the language-modelling
loss an SAE's splice is judged by (how much worse the model predicts what it would have said
when an activation is replaced by its reconstruction)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from hooked_audio.audio import AudioLike, load_audio
from hooked_audio.models.whisper.inference import greedy_options


def own_transcripts(model, mel: torch.Tensor) -> tuple[list[list[int]], torch.Tensor, list[str]]:
    """The unedited `model`'s greedy transcripts of a batch of windows (`mel`
    `[batch, n_mels, frames]`), each as the start-of-transcript prefix, its tokens and the end of
    text: those sequences, the same as a tensor right-padded with end of text, and the texts."""
    with torch.no_grad():
        results = model.decode(mel, greedy_options(model))
    eot = model.tokenizer.eot
    sequences = [model.start_tokens() + list(r.tokens) + [eot] for r in results]
    tokens = torch.full((len(sequences), max(len(s) for s in sequences)), eot, dtype=torch.long)
    for i, sequence in enumerate(sequences):
        tokens[i, : len(sequence)] = torch.tensor(sequence)
    return sequences, tokens, [r.text for r in results]


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
        rows, self.tokens, self.texts = own_transcripts(model, self.mel)
        n_start = len(model.start_tokens())
        self.targets = torch.full_like(self.tokens, -100)  # -100: not scored
        for i, row in enumerate(rows):
            self.targets[i, n_start - 1 : len(row) - 1] = torch.tensor(row[n_start:])

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
