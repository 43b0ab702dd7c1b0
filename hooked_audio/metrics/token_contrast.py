"""`TokenContrast`: a content pair's metric on a model that predicts tokens (Whisper's decoder,
an audio LM): the logit of the clean transcript's token minus the corrupt transcript's where
the two part. Each family adds the inputs that put the model at that position
(`models/whisper/word_contrast.py`, `models/audio_lm/family.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from hooked_audio.metrics.logit_diff import LogitDiff


@dataclass(frozen=True, eq=False)
class TokenContrast:
    """`position`: the index whose logits predict the contrasted token; `correct` /
    `incorrect`: the clean and the corrupt transcript's token there; `clean_word`,
    `replacement`, `word_index`: the changed word, its replacement and its index among the
    clean text's words."""

    metric_name = "logit diff"
    position: int
    correct: int
    incorrect: int
    clean_word: str
    replacement: str
    word_index: int

    def metric(self, per_example: bool = False) -> LogitDiff:
        """`logit[correct] - logit[incorrect]` at `position`: positive on the clean clip when
        the model hears the clean word."""
        return LogitDiff(self.position, self.correct, self.incorrect, per_example=per_example)
