"""How much more likely one transcript is than another under a CTC head.

A CTC encoder (wav2vec2, HuBERT) has no decoder position that predicts a word: its output is a
distribution over characters (and the blank) at every 20 ms position, and a transcript's
probability sums over every alignment of its characters to the positions (the CTC forward
algorithm, `torch.nn.functional.ctc_loss`). For a content minimal pair the two transcripts
differ in the changed word only, so the difference of their log-likelihoods is the CTC
counterpart of Whisper's logit difference at the word: positive when the model hears the clean
word.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from hooked_audio.metrics._common import as_float, check_logits, check_per_example, reduce_batch


def ctc_positions_needed(labels: Int[Tensor, " n"]) -> int:
    """The fewest positions a CTC alignment of `labels` takes: one per label, plus a blank
    between each two equal neighbours."""
    repeats = int((labels[1:] == labels[:-1]).sum()) if len(labels) > 1 else 0
    return len(labels) + repeats


def _check_labels(labels: object, name: str, blank: int, who: str) -> Tensor:
    if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"{who}: {name} must be a 1-d integer tensor of label ids.")
    if len(labels) == 0:
        raise ValueError(f"{who}: {name} is empty; CTC scores a transcript of at least one label.")
    if bool((labels == blank).any()) or bool((labels < 0).any()):
        raise ValueError(
            f"{who}: {name} holds the blank id {blank} or a negative id; a transcript's labels "
            "are the characters' ids, never the blank."
        )
    return labels.long()


@dataclass(frozen=True, eq=False)
class CTCLogLikelihoodDiff:
    """`log p(clean transcript | audio) - log p(corrupt transcript | audio)` under a CTC head.

    `clean` / `corrupt`: the two transcripts' label ids `[n]` (no blanks); `blank`: the blank's
    id (a wav2vec2 tokenizer's pad id). Logits `[batch, pos, d_vocab]`; every position is scored
    (a clip's padding positions too: score unpadded clips). A transcript that needs more
    positions than the logits have (`ctc_positions_needed`) has probability 0, which is refused
    rather than returned as an infinite difference. `per_example=False` returns the batch mean,
    `True` returns `[batch]`. Computed in at least float32.
    """

    clean: Int[Tensor, " n_clean"]
    corrupt: Int[Tensor, " n_corrupt"]
    blank: int
    per_example: bool = False

    def __post_init__(self) -> None:
        who = type(self).__name__
        check_per_example(self.per_example, who)
        if isinstance(self.blank, bool) or not isinstance(self.blank, int) or self.blank < 0:
            raise ValueError(f"{who}: blank must be a token id (an int >= 0), got {self.blank!r}.")
        object.__setattr__(self, "clean", _check_labels(self.clean, "clean", self.blank, who))
        object.__setattr__(self, "corrupt", _check_labels(self.corrupt, "corrupt", self.blank, who))

    def log_likelihood(
        self, log_probs: Float[Tensor, "pos batch d_vocab"], labels: Tensor
    ) -> Float[Tensor, " batch"]:
        n_pos, batch, d_vocab = log_probs.shape
        if int(labels.max()) >= d_vocab or self.blank >= d_vocab:
            raise ValueError(
                f"{type(self).__name__}: a label id or the blank ({self.blank}) is outside the "
                f"logits' {d_vocab} classes; the transcript was tokenised for another head."
            )
        needed = ctc_positions_needed(labels)
        if needed > n_pos:
            raise ValueError(
                f"{type(self).__name__}: a transcript of {len(labels)} labels needs at least "
                f"{needed} positions and the logits have {n_pos}: the clip is too short for it."
            )
        targets = labels.to(log_probs.device).expand(batch, -1)
        nll = F.ctc_loss(
            log_probs,
            targets,
            torch.full((batch,), n_pos, dtype=torch.long),
            torch.full((batch,), len(labels), dtype=torch.long),
            blank=self.blank,
            reduction="none",
            zero_infinity=False,
        )
        return -nll

    def __call__(self, logits: Float[Tensor, "batch pos d_vocab"]) -> Tensor:
        """Scalar (batch mean) or `[batch]` when `per_example`."""
        logits = check_logits(logits, type(self).__name__)
        log_probs = as_float(logits).log_softmax(-1).transpose(0, 1)
        difference = self.log_likelihood(log_probs, self.clean) - self.log_likelihood(
            log_probs, self.corrupt
        )
        return reduce_batch(difference, self.per_example)


__all__ = ["CTCLogLikelihoodDiff", "ctc_positions_needed"]
