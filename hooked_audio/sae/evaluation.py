"""How good an SAE is: reconstruction of its hook's activations, sparsity, and what the model
loses when it runs on the reconstruction.

- `reconstruction_stats(sae, batches, n_batches)`: explained variance
  (`1 - sum |x - x_hat|^2 / sum |x - mean(x)|^2` over all rows, SAELens's definition), mean L0
  (active features per row), the fraction of features that never fired, and the MSE.
- `spliced_loss(model, sae, loss)`: `loss(model)` (a callable, e.g. Whisper's
  `TranscriptLoss`) on the unedited model, with the SAE spliced in without its error term
  (the model runs on the reconstruction), and with the hook's activation zeroed; `recovered`
  is the fraction of the zero-ablation loss increase the reconstruction avoids (1 = no loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from hooked_audio.checks import check_count
from hooked_audio.sae_splice import add_sae, remove_saes, sae_hook_name


@dataclass(frozen=True)
class ReconstructionStats:
    explained_variance: float
    l0: float
    dead_fraction: float
    mse: float
    rows: int


@torch.no_grad()
def reconstruction_stats(sae: Any, batches, n_batches: int = 8) -> ReconstructionStats:
    """Statistics of `sae` on `n_batches` batches of `batches` (module docstring)."""
    check_count(n_batches, "n_batches")
    squared_error = 0.0
    active = 0.0
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    rows, sums, sums_sq = 0, None, None
    device = sae.W_dec.device
    for _ in range(n_batches):
        x = next(batches).to(device=device, dtype=torch.float32)
        feats = sae.encode(x)
        x_hat = sae.decode(feats).float()
        squared_error += float((x - x_hat).pow(2).sum())
        active += float((feats != 0).sum())
        fired |= (feats != 0).any(0).cpu()
        sums = x.sum(0) if sums is None else sums + x.sum(0)
        sums_sq = x.pow(2).sum(0) if sums_sq is None else sums_sq + x.pow(2).sum(0)
        rows += len(x)
    # sum |x - mean|^2 = sum |x|^2 - rows * |mean|^2 (accumulated in float64 terms above)
    total = float(sums_sq.double().sum() - sums.double().pow(2).sum() / rows)
    return ReconstructionStats(
        explained_variance=1.0 - squared_error / total,
        l0=active / rows,
        dead_fraction=float((~fired).float().mean()),
        mse=squared_error / (rows * x.shape[-1]),
        rows=rows,
    )


@dataclass(frozen=True)
class SplicedLoss:
    clean: float
    spliced: float
    zero_ablated: float

    @property
    def increase(self) -> float:
        """The loss added by running on the reconstruction."""
        return self.spliced - self.clean

    @property
    def recovered(self) -> float:
        """`(zero_ablated - spliced) / (zero_ablated - clean)`: 1 when splicing costs nothing,
        0 when it is as bad as zeroing the activation."""
        return (self.zero_ablated - self.spliced) / (self.zero_ablated - self.clean)


def spliced_loss(
    model: Any, sae: Any, loss: Callable[[Any], float], hook_name: str | None = None
) -> SplicedLoss:
    """`loss(model)` unedited, with `sae` spliced in (no error term), and with the hook's
    activation zeroed (module docstring)."""
    name = sae_hook_name(sae, hook_name)
    clean = loss(model)
    add_sae(model, sae, name, use_error_term=False)
    try:
        spliced = loss(model)
    finally:
        remove_saes(model, [name])
    with model.hooks(fwd_hooks=[(name, lambda x, hook: torch.zeros_like(x))]):
        zero_ablated = loss(model)
    return SplicedLoss(clean, spliced, zero_ablated)
