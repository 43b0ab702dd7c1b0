"""Integrated-gradients estimates of a per-head sweep: every head and cell of a layer from one
batch of path runs, for encoder heads' outputs and for what a cross-attention head reads.

`head_sweep` runs once per (layer, head, cell). `head_integrated_gradients` estimates the same
map: per layer, the patched acts of every head (e.g. `z`, or a cross-attention's `k` and `v`)
move together along the straight path from the base run's to the source run's values
(`integration_path.layer_path`), and a cell's estimate is the base run's metric plus
`delta . mean gradient` summed over its head's positions and `d_head` (and over the acts).
Cost per layer: about `3 * steps` forward-equivalents of the layers from `l` on, whatever the
number of heads and cells. Completeness holds as for `integrated_gradients`: the cells of a
layer add up to the effect of patching all its heads at all positions.

Only the layer path: the input path moves the residual stream, and what distinguishes the
runs of a cross-attention sweep (the audio both read) does not travel in the decoder's
residual stream.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import reduce

import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import ActivationCache

from hooked_audio.checks import check_count
from hooked_audio.patching.attribution import accumulation_dtype
from hooked_audio.patching.cells import Cells, metric_value
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import collect_results
from hooked_audio.patching.head_sweep import head_cells
from hooked_audio.patching.integration_path import layer_path, path_points
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def head_integrated_gradients(
    base_view: AudioStream,
    base_input: StreamInput,
    source_cache: ActivationCache,
    metric: Callable[[Tensor], Tensor],
    component: str | None = None,
    act: str | Sequence[str] = "z",
    layers: Sequence[int] | None = None,
    direction: Direction = "denoise",
    reference_values: tuple[float, float] = (float("nan"), float("nan")),
    positions: Cells | None = None,
    position_labels: Sequence[str] | None = None,
    by_pos: bool = False,
    steps: int = 8,
    batch_size: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Estimates of `head_sweep` with the same arguments (same cells, labels and layout:
    head-major, `values[l, h * n_groups + g]`), by integrated gradients with `steps` path
    points per layer evaluated `batch_size` at a time (default: all in one batch); `component`
    None is the view's last attention, as in `head_sweep`. `act` is
    one or more of z / q / k / v / result (a pattern's query axis is not the axis the others
    share: estimate `z` instead)."""
    acts = (act,) if isinstance(act, str) else tuple(act)
    if "pattern" in acts:
        raise ValueError(
            "Integrated gradients of a pattern are not supported: estimate the head's `z` "
            "(its output), or patch the pattern exactly with head_sweep."
        )
    plan = head_cells(
        base_view,
        source_cache,
        component,
        acts,
        by_pos,
        layers,
        direction,
        positions,
        position_labels,
    )
    alphas = path_points(steps)
    batch_size = steps if batch_size is None else check_count(batch_size, "batch_size")
    names = {
        layer: [f"blocks.{layer}.{plan.component}.hook_{a}" for a in plan.acts]
        for layer in plan.layers
    }
    starts = [f"blocks.{layer}.hook_resid_pre" for layer in plan.layers]
    with torch.no_grad():
        base_logits, base_cache = base_view.run_with_cache(
            base_input, names_filter=starts + [n for layer in plan.layers for n in names[layer]]
        )
    base_value = metric_value(metric, base_logits, "on the base run")
    values = torch.full((len(plan.layers), len(plan.cells)), float("nan"), device="cpu")
    desc = f"integrated gradients ({plan.component} {'+'.join(plan.acts)} heads)"
    for li, layer in enumerate(tqdm(plan.layers, disable=not progress, desc=desc)):
        found = layer_path(
            base_view,
            layer,
            {name: base_cache[name] for name in names[layer]},
            {name: source_cache[name] for name in names[layer]},
            base_cache[starts[li]],
            metric,
            alphas,
            batch_size,
        ).attributions
        # [batch, pos, head, d_head] -> [pos, head], summed over the acts patched together
        per_head = reduce(
            operator.add,
            [
                found[name].sum(dim=(0, 3), dtype=accumulation_dtype(found[name]))
                for name in names[layer]
            ],
        )
        cells = torch.stack(
            [
                per_head[slice(None) if group is None else group, head].sum()
                for head, group in plan.cells
            ]
        )  # on the model's device; one copy to the CPU per layer
        values[li] = base_value + cells.to(device="cpu", dtype=values.dtype)
    return collect_results(
        metric,
        {"metric": metric},
        {"metric": values},
        None,
        reference_values,
        layers=plan.layers,
        cells=[[h] for h, _ in plan.cells],
        cell_labels=plan.labels,
        act=f"{plan.component}.{'+'.join(plan.acts)} (integrated gradients, {steps} steps)",
        direction=direction,
    )
