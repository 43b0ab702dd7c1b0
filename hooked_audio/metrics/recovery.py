"""Normalised recovery: where a patched metric value sits between the corrupt and clean runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.metrics._common import check_logits

Number = Union[float, int, Tensor]

#: |clean - corrupt| below this leaves recovery undefined.
MIN_GAP = 1e-6


def normalised_recovery(value: Number, clean_value: Number, corrupt_value: Number) -> Number:
    """`(value - corrupt_value) / (clean_value - corrupt_value)`, elementwise.

    0 means the patched run scores like the corrupt run, 1 like the clean run; values outside
    [0, 1] mean the patch overshoots (above 1) or pushes further from clean than the
    corruption itself (below 0). Works on Python numbers (returns a float) or broadcastable
    tensors (returns a tensor), e.g. per-example `[batch]` values.

    Raises ValueError where `|clean_value - corrupt_value| < 1e-6` or is NaN: the corruption
    does not move the metric there (or a value is missing), so recovery is undefined (pick
    another corruption or metric, or drop those examples).
    """
    if not any(isinstance(x, Tensor) for x in (value, clean_value, corrupt_value)):
        gap = float(clean_value) - float(corrupt_value)
        if not abs(gap) >= MIN_GAP:  # NaN fails this too
            raise ValueError(_same_message(clean_value, corrupt_value))
        return (float(value) - float(corrupt_value)) / gap
    gap = torch.as_tensor(clean_value) - torch.as_tensor(corrupt_value)
    flat = gap.detach().reshape(-1)
    bad = (flat.abs() < MIN_GAP) | torch.isnan(flat)
    if bad.any():
        where = (
            ""
            if gap.ndim == 0
            else f" at index(es) {bad.nonzero().flatten().tolist()[:10]} (flattened)"
        )
        raise ValueError(_same_message(clean_value, corrupt_value, where))
    return (torch.as_tensor(value) - torch.as_tensor(corrupt_value)) / gap


def _same_message(clean: Number, corrupt: Number, where: str = "") -> str:
    def show(x: Number) -> str:
        if isinstance(x, Tensor):
            return str(x.tolist()) if x.numel() <= 8 else f"tensor of shape {tuple(x.shape)}"
        return repr(x)

    return (
        f"The clean ({show(clean)}) and corrupt ({show(corrupt)}) metric values are equal"
        f"{where} (|clean - corrupt| < {MIN_GAP:g}): the corruption does not move the "
        "metric, so recovery is undefined. Pick another corruption or metric, or drop "
        "those examples."
    )


@dataclass(frozen=True, eq=False)
class Recovery:
    """A metric wrapper: the normalised recovery of `metric` on the logits it is called on,
    `(metric(logits) - corrupt_value) / (clean_value - corrupt_value)`.

    Sign: 0 = scores like the corrupt run, 1 = like the clean run, whatever the sign
    convention of `metric` (for KL-to-clean, whose clean value is 0, recovery is still 1 at
    clean). `clean_value = metric(clean_logits)` and `corrupt_value = metric(corrupt_logits)`
    are computed once at construction (detached) and kept as attributes. Whether the result is
    a scalar or `[batch]` follows the wrapped metric's `per_example`; with a scalar metric the
    ratio is of batch means, with a per-example metric each example is normalised by its own
    clean/corrupt gap. Raises ValueError at construction if the gap is below 1e-6 anywhere, and
    at call time if the logits' batch differs from the stored clean logits'.
    """

    metric: Callable[[Tensor], Tensor]
    clean_logits: Float[Tensor, "batch n_tokens d_vocab"] = field(repr=False)
    corrupt_logits: Float[Tensor, "batch n_tokens d_vocab"] = field(repr=False)
    clean_value: Tensor = field(init=False)
    corrupt_value: Tensor = field(init=False)

    def __post_init__(self) -> None:
        who = type(self).__name__
        if not callable(self.metric):
            raise ValueError(
                f"{who}: metric must be a callable logits -> tensor, got "
                f"{type(self.metric).__name__}."
            )
        clean = check_logits(self.clean_logits, f"{who} clean_logits").detach()
        corrupt = check_logits(self.corrupt_logits, f"{who} corrupt_logits").detach()
        if clean.shape[0] != corrupt.shape[0]:
            raise ValueError(
                f"{who}: clean_logits have batch {clean.shape[0]} but corrupt_logits "
                f"have batch {corrupt.shape[0]}; pair each clean example with its "
                "corrupt version."
            )
        with torch.no_grad():
            clean_value = torch.as_tensor(self.metric(clean)).detach()
            corrupt_value = torch.as_tensor(self.metric(corrupt)).detach()
        normalised_recovery(clean_value, clean_value, corrupt_value)  # raises if undefined
        object.__setattr__(self, "clean_logits", clean)
        object.__setattr__(self, "corrupt_logits", corrupt)
        object.__setattr__(self, "clean_value", clean_value)
        object.__setattr__(self, "corrupt_value", corrupt_value)

    @property
    def per_example(self) -> bool:
        """The wrapped metric's `per_example` (True when it returns `[batch]`)."""
        return self.clean_value.ndim > 0

    def __call__(self, logits: Float[Tensor, "batch n_tokens d_vocab"]) -> Tensor:
        who = type(self).__name__
        logits = check_logits(logits, who)
        if logits.shape[0] != self.clean_logits.shape[0]:
            raise ValueError(
                f"{who}: the logits have batch {logits.shape[0]} but the stored "
                f"clean logits have batch {self.clean_logits.shape[0]}; build the "
                "wrapper from clean/corrupt runs of the same batch as the patched runs."
            )
        value = torch.as_tensor(self.metric(logits))
        clean = self.clean_value.to(value.device)
        corrupt = self.corrupt_value.to(value.device)
        return (value - corrupt) / (clean - corrupt)


__all__ = ["normalised_recovery", "Recovery"]
