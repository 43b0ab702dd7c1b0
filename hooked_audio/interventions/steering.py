"""`steering_hook`: add `strength * direction` to an activation at chosen positions while the
model runs (e.g. a probe's direction in the residual stream during transcription)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def steering_hook(
    direction: Tensor,
    strength: float,
    positions: Sequence[int] | slice | None = None,
    normalise: bool = True,
) -> Callable[..., Tensor]:
    """A hook `(activation [batch, pos, d], hook) -> activation + strength * direction` at
    `positions` (indices or a slice of the position axis; None: every position). With
    `normalise` the direction is scaled to unit length first, so `strength` is in the
    activation's own units (compare it with the norm of the activation it is added to)."""
    direction = torch.as_tensor(direction).detach().float().reshape(-1)
    if not torch.isfinite(direction).all():
        raise ValueError("The steering direction has NaN or infinite entries.")
    norm = float(direction.norm())
    if norm == 0:
        raise ValueError("The steering direction is all zeros: there is nothing to add.")
    if normalise:
        direction = direction / norm
    if not isinstance(strength, (int, float)) or not torch.isfinite(torch.tensor(strength)):
        raise ValueError(f"strength must be a finite number, got {strength!r}.")
    where = slice(None) if positions is None else positions
    if not isinstance(where, slice):
        where = list(where)
        if any(not isinstance(p, int) or p < 0 for p in where):
            raise ValueError(f"positions must be non-negative ints, got {positions!r}.")

    def hook(activation: Tensor, hook=None) -> Tensor:
        if activation.shape[-1] != len(direction):
            raise ValueError(
                f"The direction has {len(direction)} entries; the activation at "
                f"{getattr(hook, 'name', 'this hook')} has {activation.shape[-1]}."
            )
        if not isinstance(where, slice) and where and max(where) >= activation.shape[1]:
            raise ValueError(
                f"Position {max(where)} is outside the {activation.shape[1]} positions here."
            )
        out = activation.clone()
        step = (strength * direction).to(activation.device, activation.dtype)
        out[:, where] += step
        return out

    return hook
