"""Attribution patching: a first-order estimate of every residual-stream patch at once.

For a patch of activation `a` from the source run into the base run, attribution patching
estimates the metric as `metric(base) + (a_source - a_base) . d metric / d a` at the base run,
one forward and one backward for every layer x position cell together (Nanda 2023; Syed et
al. 2023). It is a linear approximation: on Whisper it can be a poor guide (see
benchmarks/SWEEP_RESULTS.md for its agreement with exact patching per layer), so use it to
choose where to run exact patching, not instead of it.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from hooked_audio.patching.fast_sweep import _as_groups, _scalar, prepare_resid_pre
from hooked_audio.patching.sweep_result import SweepResult


def resid_pre_attribution(
    view,
    clean: Tensor,
    corrupt: Tensor,
    metric: Callable[[Tensor], Tensor],
    direction: str = "denoise",
    layers: Optional[Sequence[int]] = None,
    cells: Optional[Sequence] = None,
) -> SweepResult:
    """Attribution-patching estimates of `resid_pre_sweep` (same cells, same result type):
    `values[l, c]` is the estimated metric after patching cell `c` of `blocks.{l}.hook_resid_pre`."""
    base_input, source_input, layers, names = prepare_resid_pre(view, clean, corrupt, direction, layers)
    with torch.no_grad():
        source_logits, source_cache = view.run_with_cache(source_input, names_filter=names)

    base_acts: dict[str, Tensor] = {}

    def keep(activation: Tensor, hook) -> None:
        base_acts[hook.name] = activation

    if torch.is_floating_point(base_input):
        base_input = base_input.detach().requires_grad_(True)  # a graph even with frozen weights
    with torch.enable_grad():
        base_logits = view.run_with_hooks(base_input, fwd_hooks=[(n, keep) for n in names])
        value = metric(base_logits)
        if torch.as_tensor(value).ndim != 0:
            raise ValueError(f"The metric must return a scalar, got shape {tuple(value.shape)}.")
        grads = torch.autograd.grad(value, [base_acts[n] for n in names], allow_unused=True)

    n_pos = base_acts[names[0]].shape[1]
    groups = _as_groups(cells, n_pos)
    values = torch.empty(len(layers), len(groups))
    base_value = float(value.detach())
    for li, (name, grad) in enumerate(zip(names, grads)):
        if grad is None:
            grad = torch.zeros_like(base_acts[name])
        # Per-position first-order effect, summed over batch and d_model.
        effect = ((source_cache[name] - base_acts[name].detach()) * grad).sum(dim=(0, 2))
        for ci, group in enumerate(groups):
            values[li, ci] = base_value + effect[group].sum()
    clean_logits, corrupt_logits = ((source_logits, base_logits) if direction == "denoise"
                                    else (base_logits, source_logits))
    return SweepResult(
        values=values, layers=layers, cells=groups,
        cell_labels=view.cell_labels(groups), cell_seconds=view.cell_seconds(groups),
        act="resid_pre (attribution)", direction=direction,
        clean_value=_scalar(metric, clean_logits.detach()),
        corrupt_value=_scalar(metric, corrupt_logits.detach()),
    )
