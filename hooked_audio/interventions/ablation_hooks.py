"""`ablation_hook`: a forward hook that replaces a site's output (a head's slice of `hook_z`,
or a whole component's output) by zeros, the reference mean, or vectors resampled from a
reference pool. The hook returns a new tensor of the input's shape, dtype and device; the
rest of the activation is untouched."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from hooked_audio.interventions.reference_pool import ReferencePool
from hooked_audio.interventions.sites import AblationSite

#: zero: the output is 0; mean: the reference mean at every position; resample: each
#: position gets a reference vector drawn uniformly at random (a fixed seed per hook)
ABLATIONS = ("zero", "mean", "resample")


def ablation_hook(
    site: AblationSite,
    ablation: str = "zero",
    pool: ReferencePool | None = None,
    seed: int = 0,
) -> Callable[..., Tensor]:
    """A hook `(activation, hook) -> activation` that ablates `site`. `mean` and `resample`
    need the site's reference `pool` (`collect_reference_pools`)."""
    if ablation not in ABLATIONS:
        raise ValueError(f"Unknown ablation {ablation!r}; choose one of {ABLATIONS}.")
    if ablation != "zero" and pool is None:
        raise ValueError(
            f"A {ablation} ablation needs reference activations: give reference clips (the "
            "study's --reference option) or use --ablation zero."
        )
    if pool is not None and pool.site.key != site.key:
        raise ValueError(f"The reference pool is of {pool.site.key}, not of {site.key}.")
    mean = pool.mean if ablation == "mean" and pool is not None else None
    vectors = pool.vectors if ablation == "resample" and pool is not None else None
    generator = torch.Generator().manual_seed(seed)

    def hook(activation: Tensor, hook=None) -> Tensor:
        if site.head is not None and not 0 <= site.head < activation.shape[site.head_axis]:
            raise ValueError(
                f"{site.key}: head {site.head} of {activation.shape[site.head_axis]} heads."
            )
        target = activation.select(site.head_axis, site.head) if site.head is not None else None
        shape = (target if target is not None else activation).shape
        if ablation == "zero":
            value = torch.zeros(shape, dtype=activation.dtype, device=activation.device)
        elif mean is not None:
            value = mean.to(activation.device, activation.dtype).expand(shape)
        else:
            assert vectors is not None
            n = int(torch.tensor(shape[:-1]).prod())
            index = torch.randint(len(vectors), (n,), generator=generator)
            value = vectors[index].reshape(shape).to(activation.device, activation.dtype)
        out = activation.clone()
        if site.head is None:
            out.copy_(value)
        else:
            out.select(site.head_axis, site.head).copy_(value)
        return out

    return hook
