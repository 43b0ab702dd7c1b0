"""Refuse checkpoints whose weights hold NaN or infinity, before they produce NaN logits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

#: parameter names quoted in the error
SHOWN = 5


def nonfinite_weights(weights: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]) -> list[str]:
    """Names of the floating tensors that hold a NaN or an infinity, in order.

    A tensor's sum is non-finite whenever the tensor holds a NaN or an infinity, and summing
    costs a fraction of an elementwise test; only tensors whose sum is non-finite (or
    overflows: float16 sums in float32) are tested element by element."""
    items = weights.items() if isinstance(weights, Mapping) else weights
    bad = []
    with torch.no_grad():
        for name, tensor in items:
            if not tensor.is_floating_point() or tensor.numel() == 0:
                continue
            wide = torch.float32 if tensor.dtype == torch.float16 else None
            if torch.isfinite(tensor.sum(dtype=wide)):
                continue
            if not bool(torch.isfinite(tensor).all()):
                bad.append(name)
    return bad


def check_finite_weights(
    weights: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]], source: str
) -> None:
    """Raise a `ValueError` naming the first parameters of `source` that hold NaN or infinity."""
    bad = nonfinite_weights(weights)
    if not bad:
        return
    shown = ", ".join(bad[:SHOWN]) + (f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else "")
    raise ValueError(
        f"{source}: {len(bad)} weight tensor(s) hold NaN or infinite values ({shown}). The "
        "checkpoint is corrupt (an incomplete download or a damaged file; fetch it again), or "
        "it was saved in float16 from values beyond float16's range (65504), which overflow to "
        "infinity; save it again in float32 or bfloat16."
    )


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A short SHA-256 of a model's parameters (names, shapes, dtypes and values), to tell two
    models apart when they go by the same name (an activation store resumed with another
    checkpoint). Every value is hashed: about a second per GB of weights."""
    import hashlib

    digest = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
            data = tensor.detach().to("cpu").contiguous()
            if data.dtype == torch.bfloat16:  # numpy has no bfloat16: hash its bits
                data = data.view(torch.int16)
            digest.update(data.numpy().tobytes())
    return digest.hexdigest()[:16]


def warn_low_precision_processing(model: torch.nn.Module) -> None:
    """Warn before weights are processed (folded, centred) in place in a 16-bit dtype: every
    processed weight is rounded again to 8 (bfloat16) or 11 (float16) significant bits, which
    adds to the model's own rounding error. Processing in float32 and casting after does not."""
    import warnings

    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    low = sorted(
        str(d).removeprefix("torch.") for d in dtypes if d in (torch.bfloat16, torch.float16)
    )
    if low:
        warnings.warn(
            f"Processing weights in place in {', '.join(low)}: each folded or centred weight is "
            "rounded again to 16 bits, which adds error to every activation. Load the model in "
            "float32, process its weights, then cast it (model.to(torch.bfloat16)).",
            stacklevel=3,
        )
