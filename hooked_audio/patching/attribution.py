"""Attribution patching: a first-order estimate of every residual-stream patch at once.

For a patch of activation `a` from the source run into the base run, attribution patching
estimates the metric as `metric(base) + (a_source - a_base) . d metric / d a` at the base run,
one forward and one backward for every layer x position cell together (Nanda 2023; Syed et
al. 2023). It is a linear approximation: on Whisper it can be a poor guide (see
benchmarks/SWEEP_RESULTS.md for its agreement with exact patching per layer), so use it to
choose where to run exact patching, not instead of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import ActivationCache

from hooked_audio.checks import check_layers
from hooked_audio.patching.cells import Cells, as_position_groups
from hooked_audio.patching.checks import check_aligned, check_direction
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.engine import collect_results
from hooked_audio.patching.runs import BaseAndSource
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, NamedHook, StreamInput


def accumulation_dtype(activation: Tensor) -> torch.dtype:
    """The dtype estimates are summed in: the activation's, and at least float32 (a bfloat16
    or float16 model's attributions are summed in float32, a float64 model's in float64)."""
    return torch.promote_types(activation.dtype, torch.float32)


def _position_effects(
    view: AudioStream,
    base_input: StreamInput,
    source_cache: ActivationCache,
    names: list[str],
    metric: Callable[[Tensor], Tensor],
    drop_layer: int | None = None,
) -> tuple[Float[Tensor, "name pos"], float, Tensor]:
    """First-order effect of patching each position of each `names` activation:
    `(effects [n_names, pos], metric(base), base logits)`. With `drop_layer`, the gradient
    through that block's writes to the residual stream (the outputs of the view's
    `block_writers`: its attentions and MLP) is dropped (AtP*'s GradDrop); the forward values
    are unchanged."""
    base_acts: dict[str, Tensor] = {}

    def keep(activation: Tensor, hook: NamedHook) -> None:
        base_acts[hook.name] = activation

    hooks: list[tuple[str, Callable]] = [(n, keep) for n in names]
    if drop_layer is not None:
        writes = [f"blocks.{drop_layer}.hook_{part}_out" for part in view.block_writers]
        hooks += [(n, lambda x, hook: x.detach()) for n in writes]
    if torch.is_floating_point(base_input):
        base_input = base_input.detach().requires_grad_(True)  # a graph even with frozen weights
    with torch.enable_grad():
        base_logits = view.run_with_hooks(base_input, fwd_hooks=hooks)
        value = metric(base_logits)
        if torch.as_tensor(value).ndim != 0:
            raise ValueError(f"The metric must return a scalar, got shape {tuple(value.shape)}.")
        grads = torch.autograd.grad(value, [base_acts[n] for n in names], allow_unused=True)
    effects = torch.stack(
        [
            ((source_cache[n] - base_acts[n].detach()) * (g if g is not None else 0.0)).sum(
                dim=(0, 2), dtype=accumulation_dtype(source_cache[n])
            )
            for n, g in zip(names, grads)
        ]
    )  # summed over batch and d_model
    return effects.detach(), float(value.detach()), base_logits.detach()


def estimate_result(
    view: AudioStream,
    values: Float[Tensor, "layer cell"],
    layers: list[int],
    groups: list[list[int]],
    act: str,
    direction: Direction,
    metric: Callable[[Tensor], Tensor],
    source_logits: Tensor | None,
    base_logits: Tensor,
) -> SweepResult:
    """An estimate's values as a `SweepResult`, with the metric on the unpatched runs."""
    runs = BaseAndSource(direction, base_logits, None, source_logits, None)
    return collect_results(
        metric,
        {"metric": metric},
        {"metric": values},
        runs,
        layers=layers,
        cells=groups,
        cell_labels=view.cell_labels(groups),
        cell_seconds=view.cell_seconds(groups),
        act=act,
        direction=direction,
    )


def source_run(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    direction: Direction,
    layers: Sequence[int] | None,
) -> tuple[StreamInput, list[int], list[str], Tensor, ActivationCache]:
    """The set-up every attribution estimate shares: `(base_input, layers, resid_pre names,
    source logits, source cache of those names)`."""
    check_aligned(view, clean, corrupt)
    check_direction(direction)
    layers = check_layers(layers, view.cfg.n_layers)
    names = [f"blocks.{layer}.hook_resid_pre" for layer in layers]
    base_input, source_input = base_and_source(direction, clean, corrupt)
    with torch.no_grad():
        source_logits, source_cache = view.run_with_cache(source_input, names_filter=names)
    return base_input, layers, names, source_logits, source_cache


def cell_sums(
    effects: Float[Tensor, "row pos"], groups: list[list[int]]
) -> Float[Tensor, "row cell"]:
    return torch.stack([effects[:, group].sum(dim=1) for group in groups], dim=1)


def resid_pre_attribution(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Cells | None = None,
) -> SweepResult:
    """Attribution-patching estimates of `resid_pre_sweep` (same cells, same result type):
    `values[l, c]` is the estimated metric after patching cell `c` of
    `blocks.{l}.hook_resid_pre`."""
    base_input, layers, names, source_logits, source_cache = source_run(
        view, clean, corrupt, direction, layers
    )
    effects, base_value, base_logits = _position_effects(
        view, base_input, source_cache, names, metric
    )
    groups = as_position_groups(cells, effects.shape[1])
    return estimate_result(
        view,
        base_value + cell_sums(effects, groups),
        layers,
        groups,
        "resid_pre (attribution)",
        direction,
        metric,
        source_logits,
        base_logits,
    )


def resid_pre_attribution_graddrop(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Cells | None = None,
) -> SweepResult:
    """AtP*'s GradDrop (Kramar et al. 2024): estimated effect *magnitudes*, robust to
    cancellation between paths. For each layer `l` the attribution is recomputed with the
    gradient through block `l`'s writes dropped; the estimate is `sum_l |AtP_drop_l| / (L - 1)`.
    A cell whose paths cancel in plain attribution (small plain estimate, large true effect)
    keeps a large magnitude here. `values` are magnitudes `>= 0` (not metric values): rank
    cells with them, then measure the top ones exactly."""
    base_input, layers, names, source_logits, source_cache = source_run(
        view, clean, corrupt, direction, layers
    )
    n_layers = view.cfg.n_layers
    if n_layers < 2:
        raise ValueError("GradDrop needs at least two layers.")
    groups: list[list[int]] = []
    total: Tensor | float = 0.0
    for drop in range(n_layers):
        effects, _, base_logits = _position_effects(
            view, base_input, source_cache, names, metric, drop
        )
        groups = groups or as_position_groups(cells, effects.shape[1])
        total = total + cell_sums(effects, groups).abs()
    values = torch.as_tensor(total / (n_layers - 1))
    result = estimate_result(
        view,
        values,
        layers,
        groups,
        "resid_pre |AtP* GradDrop|",
        direction,
        metric,
        source_logits,
        base_logits,
    )
    result.metadata["magnitude"] = True  # values rank cells; they are not metric values
    return result
