"""Adaptive exact maps: patch coarse windows exactly, and split only the windows that matter.

A full exact map patches every position of every layer, one run each. Most windows of a clip
do nothing for a given metric; `adaptive_resid_pre_map` patches consecutive windows of
`window` positions exactly, and splits a window in two whenever its normalised effect
`|value - base| / |source - base|` reaches `threshold`, down to `min_size` positions. Every
value it reports is an exact patch of the cell it names (the fast engine, as `layer_sweep`),
so a reported cell and the same cell in a full map agree.

What it can miss: a window whose positions' effects cancel (one frame pushes the metric up,
another down) has a small effect as a whole and is not split, although single frames in it
matter. Lower `threshold`, or start from smaller windows, to lower that risk; `threshold=0`
splits everything and is the full map at `min_size`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.checks import (
    check_aligned,
    check_batch_size,
    check_count,
    check_layers,
)
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import resume_names, sweep_cells
from hooked_audio.patching.layer_sweep import ActivationPatch
from hooked_audio.patching.runs import run_base_and_source
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def _windows(positions: list[int], size: int) -> list[list[int]]:
    return [positions[i : i + size] for i in range(0, len(positions), size)]


def adaptive_resid_pre_map(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    positions: Sequence[int] | None = None,
    window: int = 16,
    threshold: float = 0.05,
    min_size: int = 1,
    batch_size: int | None = None,
    progress: bool = True,
) -> list[SweepResult]:
    """One exact `SweepResult` per layer over the cells the refinement ended with (module
    docstring): windows of `window` of `positions` (default: every position of the input)
    split in halves while their normalised effect is at least `threshold`, down to `min_size`
    positions. Each result's `metadata` holds `exact_runs` (its patched runs) and
    `full_runs` (what the full map at `min_size` would cost)."""
    window, min_size = check_count(window, "window"), check_count(min_size, "min_size")
    if not 0.0 <= threshold:
        raise ValueError(f"threshold must be >= 0 (a share of the total effect), got {threshold}.")
    check_aligned(view, clean, corrupt)
    layers = check_layers(layers, view.cfg.n_layers)
    batch_size = check_batch_size(batch_size, view.device)
    n_positions = clean.shape[-1]
    positions = list(range(n_positions)) if positions is None else sorted(set(positions))
    outside = [p for p in positions if not (isinstance(p, int) and 0 <= p < n_positions)]
    if outside or not positions:
        raise ValueError(
            f"positions must be integers in [0, {n_positions}), at least one; got {outside[:5]}."
        )
    names = [f"blocks.{layer}.hook_resid_pre" for layer in layers]
    with torch.no_grad():
        runs = run_base_and_source(
            view.run_with_cache,
            clean,
            corrupt,
            direction,
            resume_names(layers, view.cfg.n_layers) + names,
            names,
        )
        base_value, source_value = (
            float(metric(runs.base_logits)),
            float(metric(runs.source_logits)),
        )
    total = abs(source_value - base_value)
    if total < 1e-6:
        raise ValueError(
            f"The metric moves by {total:.2g} between the base and source runs: no effect to "
            "refine by. Check the metric and the clean/corrupt inputs."
        )
    clean_value, corrupt_value = (
        (source_value, base_value) if direction == "denoise" else (base_value, source_value)
    )
    full_runs = len(_windows(positions, min_size))
    bar = tqdm(disable=not progress, desc="adaptive map")
    results = []
    for layer in layers:
        leaves: dict[tuple[int, ...], float] = {}
        pending = _windows(positions, window)
        runs_done = 0
        while pending:
            patch = ActivationPatch("resid_pre", pending, runs.source_cache)
            found = sweep_cells(
                view, runs.base_cache, patch, [layer], len(pending), {"m": metric}, batch_size, bar
            )["m"][0]
            runs_done += len(pending)
            split = []
            for cell, value in zip(pending, found.tolist()):
                if len(cell) > min_size and abs(value - base_value) >= threshold * total:
                    half = max(min_size, (len(cell) + 1) // 2)
                    split += [cell[:half], cell[half:]]
                else:
                    leaves[tuple(cell)] = value
            pending = split
        cells = [list(cell) for cell in sorted(leaves)]
        results.append(
            SweepResult(
                values=torch.tensor([[leaves[tuple(cell)] for cell in cells]]),
                layers=[layer],
                cells=cells,
                cell_labels=view.cell_labels(cells),
                act="resid_pre (adaptive, exact)",
                direction=direction,
                clean_value=clean_value,
                corrupt_value=corrupt_value,
                cell_seconds=view.cell_seconds(cells),
                metadata={"exact_runs": runs_done, "full_runs": full_runs},
            )
        )
    bar.close()
    return results
