"""KL divergence of the patched run's next-token distribution from a reference run's."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.metrics._common import (
    check_logits,
    check_per_example,
    check_position,
    reduce_batch,
    resolve_position,
)


@dataclass(frozen=True, eq=False)
class KLDivergence:
    """`KL(reference || patched) = sum_v p_ref(v) (log p_ref(v) - log p_patched(v))`, in nats.

    `reference_logits` `[batch, n_tokens, d_vocab]` is typically the clean run's logits (so
    the metric measures how far a patched corrupt run still is from the clean output).
    Sign: always >= 0; 0 exactly when the patched distribution equals the reference; LOWER is
    closer to the reference (the opposite direction to logit difference or recovery).

    `position`: one decoder position (logits at index `i` predict token `i + 1`; negative
    counts from the end), or None for the mean over every position (padding positions
    included: pass a position, or trim the tokens, to leave them out). The logits the metric
    is called on must have the reference's shape. `per_example=False`: batch mean (scalar);
    `True`: `[batch]`. Computed in float32 (float64 if given) with `log_softmax`.
    """

    reference_logits: Float[Tensor, "batch n_tokens d_vocab"]
    position: int | None = None
    per_example: bool = False
    reference_log_probs: Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        who = type(self).__name__
        ref = check_logits(self.reference_logits, f"{who} reference_logits").detach()
        if self.position is not None:
            position = check_position(self.position, who)
            resolve_position(position, ref.shape[1], f"{who} (on reference_logits)")
            object.__setattr__(self, "position", position)
        check_per_example(self.per_example, who)
        object.__setattr__(self, "reference_logits", ref)
        log_probs = ref.to(torch.promote_types(ref.dtype, torch.float32)).log_softmax(dim=-1)
        if self.position is not None:
            log_probs = log_probs[:, self.position % ref.shape[1]][:, None]
        object.__setattr__(self, "reference_log_probs", log_probs)

    def __call__(self, logits: Float[Tensor, "batch n_tokens d_vocab"]) -> Tensor:
        """Scalar (batch mean) or `[batch]` when `per_example`."""
        who = type(self).__name__
        logits = check_logits(logits, who)
        ref_shape = tuple(self.reference_logits.shape)
        if logits.shape[0] != ref_shape[0]:
            raise ValueError(
                f"{who}: the logits have batch {logits.shape[0]} but the reference "
                f"logits have batch {ref_shape[0]}; build the metric from reference "
                "logits of the same batch as the runs it scores."
            )
        if tuple(logits.shape[1:]) != ref_shape[1:]:
            raise ValueError(
                f"{who}: logits of shape {tuple(logits.shape)} do not match the "
                f"reference's {ref_shape}; run both on token sequences of the same "
                "length and the same model."
            )
        if self.position is not None:
            pos = resolve_position(self.position, logits.shape[1], who)
            logits = logits[:, pos][:, None]
        ref = self.reference_log_probs.to(logits.device)
        log_q = logits.to(ref.dtype).log_softmax(dim=-1)
        # xlogy-style: terms with p_ref == 0 contribute 0 (not nan) even where log_q is -inf.
        terms = torch.where(ref > -torch.inf, ref.exp() * (ref - log_q), torch.zeros_like(ref))
        per_position = terms.sum(dim=-1)
        return reduce_batch(per_position.mean(dim=-1), self.per_example)


__all__ = ["KLDivergence"]
