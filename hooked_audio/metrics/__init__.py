"""Metrics for activation patching: callables `metric(logits) -> Tensor` on logits
`[batch, n_tokens, d_vocab]` (Whisper's decoder, an audio LM, a CTC head), for
`transformer_lens.patching.get_act_patch_*` (alone or as a mapping name -> metric).

Every metric takes `per_example`: False (default) returns the batch mean, a scalar, as
TransformerLens's default `reduce="scalar"` needs; True returns `[batch]`, for `reduce="mean"`
or `reduce="none"`. Decoder logits at index `i` predict token `i + 1`.

- `LogitDiff`: logit(correct) - logit(incorrect) (token sets by logsumexp); positive = correct.
- `LogProb`, `Probability`, `Accuracy`: of a token or token set at one position.
- `KLDivergence`: KL(reference || patched), >= 0, 0 = matches the reference.
- `CTCLogLikelihoodDiff`: log p(clean transcript) - log p(corrupt transcript) under a CTC head
  (wav2vec2 / HuBERT logits `[batch, pos, d_vocab]`).
- `normalised_recovery`, `Recovery`: 0 = corrupt, 1 = clean.
- `first_difference`, `PairAnswer`: the answer token of a clean/corrupt pair, where two
  transcripts diverge (`hooked_audio.models.whisper.answer_from_transcripts` finds it from
  Whisper's own greedy transcripts).
"""

from hooked_audio.metrics.answers import PairAnswer, first_difference
from hooked_audio.metrics.ctc import CTCLogLikelihoodDiff
from hooked_audio.metrics.kl import KLDivergence
from hooked_audio.metrics.logit_diff import LogitDiff
from hooked_audio.metrics.probability import Accuracy, LogProb, Probability
from hooked_audio.metrics.recovery import Recovery, normalised_recovery

__all__ = [
    "Accuracy",
    "CTCLogLikelihoodDiff",
    "KLDivergence",
    "LogProb",
    "LogitDiff",
    "PairAnswer",
    "Probability",
    "Recovery",
    "first_difference",
    "normalised_recovery",
]
