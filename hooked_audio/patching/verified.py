"""Attribute, then verify: an estimated map whose most important cells are patched exactly.

An estimate (`resid_pre_attribution`, `..._qk`, `resid_pre_integrated_gradients`) costs a
few forwards for every cell at once but can be wrong; exact patching costs one forward per
cell. `verify_top_cells` ranks the estimate's cells by their estimated effect
`|estimate - base run|`, patches the highest-ranked ones exactly with the fast engine
(`layer_sweep`'s patch, resumed at the patched layer, batched) and returns one map: exact
values where it patched, the estimate elsewhere, and `exact` saying which is which.

Stop rules: `top_k` cells over the whole map (the default, 10), or per layer, cells in rank
order until their exact effects add up to `share` of the layer-wide effect `source - base`
(the metric moving from the base run to the source run), at most `max_cells` per layer.

An estimate of effect magnitudes (`resid_pre_attribution_graddrop`, whose `metadata` says
`magnitude`) ranks cells by its values; its unverified cells are NaN in the verified map, since
a magnitude is not a metric value.

`verify_top_head_cells` does the same for a per-head estimate (`head_integrated_gradients`),
patching the chosen (head, cell)s as `head_sweep` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import ActivationCache

from hooked_audio.checks import check_count
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import Cells, metric_value
from hooked_audio.patching.checks import check_layer_act
from hooked_audio.patching.directions import base_and_source
from hooked_audio.patching.engine import Patch, cached_runs, sweep_cells
from hooked_audio.patching.head_sweep import HeadPatch, head_cells
from hooked_audio.patching.layer_sweep import ActivationPatch
from hooked_audio.patching.runs import BaseAndSource, given_source, view_runs
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def verify_top_cells(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    estimate: SweepResult,
    act: str = "resid_pre",
    top_k: int | None = 10,
    share: float | None = None,
    max_cells: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """`estimate` (of `blocks.{l}.hook_{act}` on these inputs, in its direction) with its
    most important cells patched exactly (module docstring). Give `top_k` (cells over the
    whole map) or `share` (0-1, per layer; then `top_k=None`), optionally `max_cells` per
    layer. The result's `exact[l, c]` is True where `values[l, c]` is an exact patch;
    `metadata["exact_runs"]` counts the patched runs."""
    act = check_layer_act(view, act)
    top_k, share, max_cells = _check_stop_rule(top_k, share, max_cells)
    batch_size = resolve_batch_size(batch_size, view, clean, estimate.values.numel())
    runs = cached_runs(
        view,
        view_runs(view, clean, corrupt, estimate.direction),
        [ActivationPatch(act, [])],
        estimate.layers,
    )
    base_value, source_value = base_and_source(
        estimate.direction, estimate.clean_value, estimate.corrupt_value
    )
    check_same_runs(runs, metric, base_value, source_value)
    return _verify(
        view,
        runs,
        estimate,
        lambda chunk: ActivationPatch(act, [estimate.cells[c] for c in chunk]),
        metric,
        (base_value, source_value),
        _ranked_cells(estimate, base_value, top_k, share, max_cells),
        share,
        batch_size,
        progress,
        act,
    )


def verify_top_head_cells(
    base_view: AudioStream,
    base_input: StreamInput,
    source_cache: ActivationCache,
    metric: Callable[[Tensor], Tensor],
    estimate: SweepResult,
    component: str | None = None,
    act: str | Sequence[str] = "z",
    positions: Cells | None = None,
    position_labels: Sequence[str] | None = None,
    by_pos: bool = False,
    top_k: int | None = 10,
    share: float | None = None,
    max_cells: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """`verify_top_cells` for a per-head estimate (`head_integrated_gradients`): its top
    (head, cell)s patched exactly as `head_sweep` patches them. Give the arguments the
    estimate was made with (the same `positions`, `by_pos`, component and acts; `component`
    None is the view's last attention, as in `head_sweep`); `share` needs the estimate's clean
    and corrupt values (its `reference_values`)."""
    top_k, share, max_cells = _check_stop_rule(top_k, share, max_cells)
    plan = head_cells(
        base_view,
        source_cache,
        component,
        act,
        by_pos,
        estimate.layers,
        estimate.direction,
        positions,
        position_labels,
    )
    if len(plan.cells) != estimate.values.shape[1] or (
        position_labels is not None and plan.labels != list(estimate.cell_labels)
    ):
        raise ValueError(
            f"The estimate has {estimate.values.shape[1]} cells, these arguments make "
            f"{len(plan.cells)}: pass the positions, labels and component it was made with."
        )
    batch_size = resolve_batch_size(batch_size, base_view, base_input, estimate.values.numel())
    runs = cached_runs(
        base_view,
        given_source(base_view, base_input, source_cache, estimate.direction),
        [HeadPatch(plan.component, plan.acts, [])],
        estimate.layers,
    )
    base_value = metric_value(metric, runs.base_logits, "on the base run")
    expected, source_value = base_and_source(
        estimate.direction, estimate.clean_value, estimate.corrupt_value
    )
    if share is not None and math.isnan(source_value):
        raise ValueError(
            "share=F needs the estimate's clean and corrupt values: make it with "
            "reference_values=(clean, corrupt), or verify top_k cells instead."
        )
    if not math.isnan(expected) and abs(base_value - expected) > 1e-4 * (1 + abs(expected)):
        raise ValueError(
            f"The estimate's base value {expected:.4g} differs from this base run's "
            f"{base_value:.4g}: verify an estimate made on the same inputs and metric."
        )
    return _verify(
        base_view,
        runs,
        estimate,
        lambda chunk: HeadPatch(plan.component, plan.acts, [plan.cells[c] for c in chunk]),
        metric,
        (base_value, source_value),
        _ranked_cells(estimate, base_value, top_k, share, max_cells),
        share,
        batch_size,
        progress,
        f"{plan.component}.{'+'.join(plan.acts)}",
    )


def _check_stop_rule(
    top_k: int | None, share: float | None, max_cells: int | None
) -> tuple[int | None, float | None, int | None]:
    if (top_k is None) == (share is None):
        raise ValueError("Give one stop rule: top_k=N cells, or share=F (0 < F <= 1) per layer.")
    if top_k is not None:
        check_count(top_k, "top_k")
    if share is not None and not 0.0 < share <= 1.0:
        raise ValueError(f"share must lie in (0, 1], got {share!r}.")
    if max_cells is not None:
        check_count(max_cells, "max_cells")
    return top_k, share, max_cells


def _ranked_cells(
    estimate: SweepResult,
    base_value: float,
    top_k: int | None,
    share: float | None,
    max_cells: int | None,
) -> list[list[int]]:
    """Per layer, the cells to patch in the order to patch them: by `top_k`, those among the
    `top_k` largest estimated effects over the whole map; by `share`, every cell, largest
    first (the caller stops once the share is reached); at most `max_cells` per layer."""
    n_cells = estimate.values.shape[1]
    magnitude = (
        estimate.values if estimate.metadata.get("magnitude") else estimate.values - base_value
    )
    effect = magnitude.abs().nan_to_num(nan=-1.0)  # NaN cells last
    ranked = effect.argsort(dim=1, descending=True).tolist()  # per layer, largest first
    limit = n_cells if max_cells is None else min(max_cells, n_cells)
    if top_k is None:
        return [cells[:limit] for cells in ranked]
    chosen = set(effect.flatten().argsort(descending=True)[:top_k].tolist())
    return [
        [c for c in cells if li * n_cells + c in chosen][:limit] for li, cells in enumerate(ranked)
    ]


def _verify(
    view: AudioStream,
    runs: BaseAndSource,
    estimate: SweepResult,
    make_patch: Callable[[list[int]], Patch],
    metric: Callable[[Tensor], Tensor],
    base_and_source_values: tuple[float, float],
    orders: list[list[int]],
    share: float | None,
    batch_size: int,
    progress: bool,
    act: str,
) -> SweepResult:
    """Patch each layer's `orders` cells exactly, `batch_size` per run, stopping a layer once
    its patched effects add up to `share` of `source - base`; one result marking them."""
    base_value, source_value = base_and_source_values
    estimated = estimate.values.detach().cpu()  # results live on the CPU, as sweeps return them
    values = (  # a magnitude is no metric value: only the verified cells get one
        torch.full_like(estimated, float("nan"))
        if estimate.metadata.get("magnitude")
        else estimated.clone()
    )
    exact = torch.zeros(values.shape, dtype=torch.bool, device=values.device)
    total = source_value - base_value
    bar = tqdm(disable=not progress, desc="verify", total=None)
    for li, layer in enumerate(estimate.layers):
        order = orders[li]
        explained = 0.0
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            found = sweep_cells(
                view,
                runs,
                make_patch(chunk),
                [layer],
                len(chunk),
                {"m": metric},
                batch_size,
                bar,
            )["m"][0]
            values[li, chunk] = found.to(values.dtype)  # the estimate's dtype may differ
            exact[li, chunk] = True
            explained += float((found - base_value).sum())
            if share is not None and abs(explained) >= share * abs(total):
                break
    bar.close()
    return SweepResult(
        values=values,
        layers=list(estimate.layers),
        cells=estimate.cells,
        cell_labels=estimate.cell_labels,
        act=f"{act} (verified: {estimate.act})",
        direction=estimate.direction,
        clean_value=estimate.clean_value,
        corrupt_value=estimate.corrupt_value,
        cell_seconds=estimate.cell_seconds,
        metadata={
            **{k: v for k, v in estimate.metadata.items() if k != "magnitude"},
            "exact_runs": int(exact.sum()),
        },
        exact=exact,
    )


def check_same_runs(
    runs: BaseAndSource, metric: Callable[[Tensor], Tensor], base_value: float, source_value: float
) -> None:
    """ValueError unless the estimate was made on these inputs: its unpatched metric values
    must be the ones the runs give now."""
    if runs.source_logits is None:
        raise ValueError("Checking an estimate's inputs needs the source run, not a given cache.")
    base_now, source_now = float(metric(runs.base_logits)), float(metric(runs.source_logits))
    if not (
        abs(base_now - base_value) <= 1e-4 * (1 + abs(base_value))
        and abs(source_now - source_value) <= 1e-4 * (1 + abs(source_value))
    ):
        raise ValueError(
            f"The estimate's unpatched metric values ({base_value:.4g} base, {source_value:.4g} "
            f"source) differ from these inputs' ({base_now:.4g}, {source_now:.4g}): verify an "
            "estimate made on the same clean and corrupt inputs, metric and direction."
        )
