"""Adaptive exact maps: patch coarse windows exactly, and split only the windows that matter.

A full exact map patches every cell of every layer, one run each. Most windows of a clip do
nothing for a given metric; `adaptive_map` patches windows of `window` consecutive cells
exactly (a cell: a position, or a group such as a word's frames), and splits a window in two
whenever its normalised effect `|value - base| / |source - base|` reaches `threshold`, down to
`min_size` cells. Every value it reports is an exact patch of the positions it names (the fast
engine, as `layer_sweep`), so a reported single cell and the same cell in a full map agree; a
window left whole reports the exact effect of patching its cells together.

Asked for the map's `top_k` cells, the search is a branch and bound over every layer at once:
it splits the window with the largest effect first, and leaves whole any window whose effect
is below the k-th largest single-cell effect found so far. That is exact under one assumption,
which the benchmark measures on full maps: *a cell's own effect never exceeds the joint effect
of a window that contains it* (patching more of the clean clip does not move the metric less).
Under it, a window left whole holds no cell of the top k, so the reported single cells include
the map's exact top k (among cells whose effect reaches `threshold`). A `seed` ranking (GradDrop
magnitudes, an estimate) measures its own top k singly before anything else, which raises the
bound early and prunes more.

What it can miss: a window whose positions' effects cancel (one frame pushes the metric up,
another down) has a small effect as a whole and is not split, although single frames in it
matter. Lower `threshold`, or start from smaller windows, to lower that risk; `threshold=0`
(without `top_k`) splits everything and is the full map at `min_size`. Each result's
`metadata["window_bound"]` says what every window it left whole satisfies.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.checks import check_count, check_layers
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import Cells, as_position_groups
from hooked_audio.patching.checks import check_layer_act
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.engine import cached_runs, sweep_cells
from hooked_audio.patching.head_sweep import HeadPatch, head_cells
from hooked_audio.patching.layer_sweep import ActivationPatch
from hooked_audio.patching.runs import BaseAndSource, view_runs
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def _windows(cells: list[int], size: int) -> list[list[int]]:
    return [cells[i : i + size] for i in range(0, len(cells), size)]


def _contiguous_windows(cells: list[int], skip: set[int], size: int) -> list[list[int]]:
    """Windows of at most `size` of `cells` (in order), never spanning a cell of `skip`."""
    windows: list[list[int]] = []
    run: list[int] = []
    for cell in cells:
        if cell in skip:
            windows += _windows(run, size)
            run = []
        else:
            run.append(cell)
    return windows + _windows(run, size)


def _seeded_cells(
    seed: SweepResult | Tensor | None, layers: list[int], n_cells: int, top_k: int | None
) -> dict[int, set[int]]:
    """Per layer, the cells among the `top_k` largest `|seed|` scores of the whole map."""
    chosen: dict[int, set[int]] = {layer: set() for layer in layers}
    if seed is None:
        return chosen
    if top_k is None:
        raise ValueError("A seed ranking says which cells to measure first: give top_k too.")
    scores = seed.values if isinstance(seed, SweepResult) else torch.as_tensor(seed)
    if tuple(scores.shape) != (len(layers), n_cells):
        raise ValueError(
            f"The seed ranking has shape {tuple(scores.shape)}; the map has {len(layers)} "
            f"layer(s) x {n_cells} cell(s). Rank the same layers and cells."
        )
    if torch.isnan(scores).any():
        raise ValueError("The seed ranking holds NaN: rank every cell (GradDrop magnitudes).")
    order = scores.detach().abs().flatten().argsort(descending=True)[:top_k].tolist()
    for index in order:
        chosen[layers[index // n_cells]].add(index % n_cells)
    return chosen


@dataclass(order=True)
class _Window:
    """A measured window of one layer (ordered by effect, for the best-first search)."""

    effect: float
    layer: int
    members: tuple[int, ...]
    value: float


def _halves(members: tuple[int, ...], min_size: int) -> list[list[int]]:
    half = max(min_size, (len(members) + 1) // 2)
    return [list(members[:half]), list(members[half:])]


def adaptive_map(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Cells | None = None,
    window: int = 16,
    threshold: float = 0.05,
    min_size: int = 1,
    heads: bool = False,
    batch_size: int | None = None,
    progress: bool = True,
    top_k: int | None = None,
    seed: SweepResult | Tensor | None = None,
) -> list[SweepResult]:
    """One exact `SweepResult` per layer of `blocks.{l}.hook_{act}` (`act` in `view.layer_acts`)
    over the windows the refinement ended with (module docstring): windows of `window` of
    `cells` (as in `layer_sweep`: positions, or groups of positions in time order; default
    every position) split in halves while their normalised effect is at least `threshold`,
    down to `min_size` cells. A result's cells are the positions each window patched; its
    `metadata` holds `members` (per result cell, the indices of the `cells` it covers),
    `exact_runs` (its patched runs), `full_runs` (the full map at `min_size`) and
    `window_bound` (every window of more than `min_size` cells it left whole has
    `|value - base| <` this, in metric units).

    `top_k` searches for the map's k largest single-cell effects (module docstring: best
    first over all layers, windows below the k-th effect found left whole); `seed` (a
    `SweepResult` or tensor of scores, `[len(layers), len(cells)]`, such as
    `resid_pre_attribution_graddrop`'s magnitudes) measures its own top `top_k` cells singly
    first, and the windows are formed around them.

    `heads=True` (with `act="attn_out"`, which the heads' outputs make up) goes one step
    further where it matters: each final window whose effect reaches `threshold` is patched
    once per attention head (that head's `hook_z` at the window's positions), and
    `metadata["heads"]` holds those exact values as a `SweepResult` laid out as `head_sweep`'s
    (cells head-major, labelled `H{h}@{window}`)."""
    act = check_layer_act(view, act)
    if heads and act != "attn_out":
        raise ValueError(
            f"heads=True splits a window's attention output among its heads: use "
            f"act='attn_out' (got {act!r})."
        )
    window, min_size = check_count(window, "window"), check_count(min_size, "min_size")
    top_k = None if top_k is None else check_count(top_k, "top_k")
    if not 0.0 <= threshold:
        raise ValueError(f"threshold must be >= 0 (a share of the total effect), got {threshold}.")
    layers = check_layers(layers, view.cfg.n_layers)
    groups = as_position_groups(cells, clean.shape[-1])
    seeded = _seeded_cells(seed, layers, len(groups), top_k)
    batch_size = resolve_batch_size(batch_size, view, clean, len(groups))
    patches = [ActivationPatch(act, groups)] + ([HeadPatch("attn", ("z",), [])] if heads else [])
    runs = cached_runs(view, view_runs(view, clean, corrupt, direction), patches, layers)
    clean_value, corrupt_value = runs.reference_values(metric)
    base_value, source_value = base_and_source(direction, clean_value, corrupt_value)
    total = abs(source_value - base_value)
    if total < 1e-6:
        raise ValueError(
            f"The metric moves by {total:.2g} between the base and source runs: no effect to "
            "refine by. Check the metric and the clean/corrupt inputs."
        )
    indices = list(range(len(groups)))
    positions_of = lambda members: [p for m in members for p in groups[m]]  # noqa: E731
    bar = tqdm(disable=not progress, desc="adaptive map")

    leaves: dict[int, dict[tuple[int, ...], float]] = {layer: {} for layer in layers}
    runs_done = dict.fromkeys(layers, 0)
    singles: list[float] = []  # min-heap of the k largest single-cell effects found
    frontier: list[_Window] = []  # measured windows that may still be split
    pending = {
        layer: [[c] for c in sorted(seeded[layer])]
        + _contiguous_windows(indices, seeded[layer], window)
        for layer in layers
    }
    step = max(1, batch_size // 2)  # windows split per round of the best-first search
    while True:
        for layer, windows in pending.items():
            if not windows:
                continue
            patch = ActivationPatch(act, [positions_of(w) for w in windows])
            found = sweep_cells(
                view, runs, patch, [layer], len(windows), {"m": metric}, batch_size, bar
            )["m"][0]
            runs_done[layer] += len(windows)
            for members, value in zip(windows, found.tolist()):
                effect = abs(value - base_value)
                if len(members) == 1 and top_k is not None:
                    heapq.heappush(singles, effect)
                    if len(singles) > top_k:
                        heapq.heappop(singles)
                if len(members) > min_size and effect >= threshold * total:
                    frontier.append(_Window(effect, layer, tuple(members), value))
                else:
                    leaves[layer][tuple(members)] = value
        bound = singles[0] if top_k is not None and len(singles) == top_k else 0.0
        for w in [w for w in frontier if w.effect < bound]:  # holds no cell of the top k
            leaves[w.layer][w.members] = w.value
        frontier = sorted((w for w in frontier if w.effect >= bound), reverse=True)
        if not frontier:
            break
        chosen, frontier = (frontier, []) if top_k is None else (frontier[:step], frontier[step:])
        pending = {layer: [] for layer in layers}
        for w in chosen:
            pending[w.layer] += _halves(w.members, min_size)
    window_bound = max(threshold * total, bound)
    full_runs = len(_windows(indices, min_size))
    results = []
    for layer in layers:
        leaf_members = [list(m) for m in sorted(leaves[layer])]
        patched = [positions_of(m) for m in leaf_members]
        metadata: dict[str, Any] = {
            "members": leaf_members,
            "full_runs": full_runs,
            "window_bound": window_bound,
            "top_k": top_k,
        }
        if heads:
            kept = [
                p
                for m, p in zip(leaf_members, patched)
                if abs(leaves[layer][tuple(m)] - base_value) >= threshold * total
            ]
            metadata["heads"] = _head_split(
                view, runs, layer, kept, metric, batch_size, bar, (clean_value, corrupt_value)
            )
            runs_done[layer] += metadata["heads"].values.shape[1]
        results.append(
            SweepResult(
                values=torch.tensor(
                    [[leaves[layer][tuple(m)] for m in leaf_members]], device="cpu"
                ),
                layers=[layer],
                cells=patched,
                cell_labels=view.cell_labels(patched),
                act=f"{act} (adaptive, exact)",
                direction=direction,
                clean_value=clean_value,
                corrupt_value=corrupt_value,
                cell_seconds=view.cell_seconds(patched),
                metadata={**metadata, "exact_runs": runs_done[layer]},
            )
        )
    bar.close()
    return results


def _head_split(
    view: AudioStream,
    runs: BaseAndSource,
    layer: int,
    windows: list[list[int]],
    metric: Callable[[Tensor], Tensor],
    batch_size: int,
    bar: tqdm,
    reference: tuple[float, float],
) -> SweepResult:
    """Each window of `windows` (lists of positions) patched once per head of `layer`'s
    attention (`hook_z`), exactly; laid out as `head_sweep`'s result."""
    cells, labels, values = [], [], torch.full((1, 0), float("nan"), device="cpu")
    if windows:  # head_cells lays the cells out as head_sweep does; no window, no cell
        plan = head_cells(
            view,
            runs.source_cache,
            "attn",
            "z",
            False,
            [layer],
            runs.direction,
            windows,
            view.cell_labels(windows),
        )
        cells, labels = plan.cells, plan.labels
        patch = HeadPatch("attn", plan.acts, cells)
        values = sweep_cells(
            view, runs, patch, [layer], len(cells), {"m": metric}, batch_size, bar
        )["m"]
    return SweepResult(
        values=values,
        layers=[layer],
        cells=[[head] for head, _ in cells],
        cell_labels=labels,
        act="attn.z (adaptive, exact)",
        direction=runs.direction,
        clean_value=reference[0],
        corrupt_value=reference[1],
        metadata={"positions": [window for _, window in cells]},
    )


def adaptive_resid_pre_map(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    direction: Direction = "denoise",
    **kwargs: Any,
) -> list[SweepResult]:
    """`adaptive_map` of `blocks.{l}.hook_resid_pre` (see there for the arguments)."""
    return adaptive_map(view, clean, corrupt, metric, "resid_pre", direction, **kwargs)
