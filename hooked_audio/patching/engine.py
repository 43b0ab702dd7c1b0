"""The one loop behind every exact sweep: for each layer, each chunk of cells, one patched run.

A *patch* says what one kind of patching changes and which activations it reads (`Patch`);
`run_sweep` does the rest once: the base and source runs, cached once for every patched run,
resuming each patched run at the right layer from the cached base run (the layers before it
are the same in every patched run), stacking a chunk of cells into one batched forward,
evaluating every metric on each cell's rows, the progress bar, and a result that starts as
NaN so that a cell the loop never reached cannot pass for a number.

Patched runs are exact: the stream view's `resume_from(layer, resid)` computes what the full
forward computes from `blocks.{layer}.hook_resid_pre`, and hooks on later points still fire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union, overload

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.runs import BaseAndSource, SweepRuns
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream

HookSpec = tuple[str, Callable]
Metric = Union[Callable[[Tensor], Tensor], Mapping[str, Callable[[Tensor], Tensor]]]


class Patch:
    """One kind of patch, e.g. a layer's activation at some positions, or one head; a sweep's
    rows are usually layers (a feature sweep's are feature ids), its cells what one patched
    run changes within a row.

    `source_names(layers)` / `base_names(layers)`: the hooks (local names) whose activations
    it reads from the source / base run at those rows; the engine caches them once.
    `resume_layer(layer)`: where the patched runs of row `layer` start (the block whose input
    the patch changes first); the engine reads the base run's residual stream there.
    `apply(layer, cells, resid, rows, runs)`: for the cells `cells` (indices into the sweep's
    cells) stacked in `resid` (`rows` rows each, cell k at rows `k * rows : (k + 1) * rows`),
    the residual stream to resume from and the forward hooks (local names) that patch the
    rest; `runs` holds the cached base and source activations."""

    def source_names(self, layers: Sequence[int]) -> list[str]:
        raise NotImplementedError

    def base_names(self, layers: Sequence[int]) -> list[str]:
        return []

    def resume_layer(self, layer: int) -> int:
        return layer

    def apply(
        self,
        layer: int,
        cells: list[int],
        resid: Float[Tensor, "cell_rows pos d_model"],
        rows: int,
        runs: BaseAndSource,
    ) -> tuple[Float[Tensor, "cell_rows pos d_model"], list[HookSpec]]:
        raise NotImplementedError


def resume_name(view: AudioStream, layer: int) -> str:
    """The hook holding the residual stream a run of `view` resumes from at `layer`: block
    `layer`'s input, or for `layer == n_layers` the last block's output. That is its
    `hook_resid_post` on a pre-LN block, and its `hook_normalized_resid_post` on a post-LN one
    (wav2vec2 / HuBERT base), whose `hook_resid_post` is the sum before its final LayerNorm."""
    n_layers = view.cfg.n_layers
    if layer < n_layers:
        return f"blocks.{layer}.hook_resid_pre"
    normalized = f"blocks.{n_layers - 1}.hook_normalized_resid_post"
    return normalized if normalized in view.hook_dict else f"blocks.{n_layers - 1}.hook_resid_post"


def resume_names(view: AudioStream, resume_layers: Sequence[int]) -> list[str]:
    """The base-run hooks that runs resuming at `resume_layers` start from (cache these)."""
    return sorted({resume_name(view, layer) for layer in resume_layers})


@torch.no_grad()
def cached_runs(
    view: AudioStream, runs: SweepRuns, patches: Sequence[Patch], layers: Sequence[int]
) -> BaseAndSource:
    """Run the base and source inputs once, caching all that `patches` read at `layers`: the
    residual streams they resume from, and their base and source activations."""
    base, source = set(), set()
    for patch in patches:
        base.update(resume_names(view, [patch.resume_layer(layer) for layer in layers]))
        base.update(patch.base_names(layers))
        source.update(patch.source_names(layers))
    return runs(sorted(base), sorted(source))


@torch.no_grad()
def sweep_cells(
    view: AudioStream,
    runs: BaseAndSource,
    patch: Patch,
    layers: Sequence[int],
    n_cells: int,
    metrics: Mapping[str, Callable[[Tensor], Tensor]],
    batch_size: int,
    progress: bool | tqdm = True,
    desc: str = "sweep",
    cell_names: Sequence[str] | None = None,
) -> dict[str, Float[Tensor, "layer cell"]]:
    """`values[metric][layer_index, cell]` for every layer and cell, `batch_size` cells per
    forward; `runs` holds what `cached_runs` cached for `patch`."""
    # The metric values are Python floats, collected on the CPU whatever the model's device.
    values = {
        name: torch.full((len(layers), n_cells), float("nan"), device="cpu") for name in metrics
    }
    own_bar = not isinstance(progress, tqdm)  # a caller's bar spans several sweeps
    bar = (
        progress
        if isinstance(progress, tqdm)
        else tqdm(total=len(layers) * n_cells, disable=not progress, desc=desc)
    )
    for li, layer in enumerate(layers):
        start = patch.resume_layer(layer)
        start_resid = runs.base_cache[resume_name(view, start)]
        rows = start_resid.shape[0]
        for first in range(0, n_cells, batch_size):
            chunk = list(range(first, min(first + batch_size, n_cells)))
            resid, hooks = patch.apply(
                layer, chunk, start_resid.repeat(len(chunk), 1, 1), rows, runs
            )
            with view.hooks(fwd_hooks=hooks):
                logits = view.resume_from(start, resid)
            for k, cell in enumerate(chunk):
                where = f"at layer {layer}, cell {cell_names[cell] if cell_names else cell}"
                for name, fn in metrics.items():
                    values[name][li, cell] = metric_value(
                        fn, logits[k * rows : (k + 1) * rows], where
                    )
            bar.update(len(chunk))
    if own_bar:
        bar.close()
    return values


@overload
def run_sweep(
    view: AudioStream,
    runs: SweepRuns,
    patch: Patch,
    layers: Sequence[int],
    cells: Sequence[Sequence[int]],
    labels: Sequence[str],
    metric: Callable[[Tensor], Tensor],
    batch_size: int,
    progress: bool | tqdm = ...,
    desc: str = ...,
    reference: tuple[float, float] | None = ...,
    **fields: Any,
) -> SweepResult: ...


@overload
def run_sweep(
    view: AudioStream,
    runs: SweepRuns,
    patch: Patch,
    layers: Sequence[int],
    cells: Sequence[Sequence[int]],
    labels: Sequence[str],
    metric: Mapping[str, Callable[[Tensor], Tensor]],
    batch_size: int,
    progress: bool | tqdm = ...,
    desc: str = ...,
    reference: tuple[float, float] | None = ...,
    **fields: Any,
) -> dict[str, SweepResult]: ...


@overload
def run_sweep(
    view: AudioStream,
    runs: SweepRuns,
    patch: Patch,
    layers: Sequence[int],
    cells: Sequence[Sequence[int]],
    labels: Sequence[str],
    metric: Metric,
    batch_size: int,
    progress: bool | tqdm = ...,
    desc: str = ...,
    reference: tuple[float, float] | None = ...,
    **fields: Any,
) -> SweepResult | dict[str, SweepResult]: ...


@torch.no_grad()
def run_sweep(
    view: AudioStream,
    runs: SweepRuns,
    patch: Patch,
    layers: Sequence[int],
    cells: Sequence[Sequence[int]],
    labels: Sequence[str],
    metric: Metric,
    batch_size: int,
    progress: bool | tqdm = True,
    desc: str = "sweep",
    reference: tuple[float, float] | None = None,
    **fields: Any,
) -> SweepResult | dict[str, SweepResult]:
    """Every exact sweep in one call: `patch` at each of `cells` of each of `layers` (rows),
    `batch_size` cells per forward, on the base run that `runs` makes (`runs.view_runs` for two
    inputs of `view`, `runs.given_source` for a source cache the caller has).

    The base and source runs cache once all the patch reads (`cached_runs`); every metric is
    evaluated on each patched run. Returns one `SweepResult` per metric (a dict when `metric` is
    a mapping) holding `cells` (what each cell patched) named by `labels`, the direction of
    `runs`, the metric on the unpatched clean and corrupt runs (`reference` where the caller
    ran them) and `fields` (`act`, `cell_seconds`, ...). Each public sweep checks its own
    arguments, then specialises this, as TransformerLens's `get_act_patch_*` specialise
    `generic_activation_patch`."""
    metrics = as_metrics(metric)
    layers = list(layers)
    done = cached_runs(view, runs, [patch], layers)
    values = sweep_cells(
        view, done, patch, layers, len(cells), metrics, batch_size, progress, desc, labels
    )
    return collect_results(
        metric,
        metrics,
        values,
        done if reference is None else None,
        reference,
        layers=layers,
        cells=[list(cell) for cell in cells],
        cell_labels=list(labels),
        direction=done.direction,
        **fields,
    )


def as_metrics(metric: Callable | Mapping[str, Callable]) -> dict[str, Callable]:
    """One metric, or a mapping of names to metrics (all evaluated on every patched run)."""
    if isinstance(metric, Mapping):
        if not metric:
            raise ValueError("The metric mapping is empty.")
        bad = [name for name, fn in metric.items() if not callable(fn)]
    else:
        metric, bad = {"metric": metric}, [] if callable(metric) else ["metric"]
    if bad:
        raise TypeError(f"Metrics must be callables logits -> scalar tensor; {bad} are not.")
    return dict(metric)


@overload
def collect_results(
    metric: Callable[[Tensor], Tensor],
    metrics: dict[str, Callable],
    values: dict[str, Tensor],
    runs: BaseAndSource | None,
    reference: tuple[float, float] | None = ...,
    **fields: Any,
) -> SweepResult: ...


@overload
def collect_results(
    metric: Mapping[str, Callable[[Tensor], Tensor]],
    metrics: dict[str, Callable],
    values: dict[str, Tensor],
    runs: BaseAndSource | None,
    reference: tuple[float, float] | None = ...,
    **fields: Any,
) -> dict[str, SweepResult]: ...


@overload
def collect_results(
    metric: Metric,
    metrics: dict[str, Callable],
    values: dict[str, Tensor],
    runs: BaseAndSource | None,
    reference: tuple[float, float] | None = ...,
    **fields: Any,
) -> SweepResult | dict[str, SweepResult]: ...


def collect_results(
    metric: Metric,
    metrics: dict[str, Callable],
    values: dict[str, Tensor],
    runs: BaseAndSource | None,
    reference: tuple[float, float] | None = None,
    **fields: Any,
) -> SweepResult | dict[str, SweepResult]:
    """One `SweepResult` per metric (a dict when `metric` was a mapping), with the metric on the
    unpatched clean and corrupt runs from `runs` (or `reference`, when the caller ran them).
    Values come back on the CPU (an estimate computed on the model's device is moved here)."""
    results = {}
    for name, fn in metrics.items():
        clean_value, corrupt_value = (
            runs.reference_values(fn)
            if runs is not None
            else reference or (float("nan"), float("nan"))
        )
        results[name] = SweepResult(
            values=values[name].detach().cpu(),
            clean_value=clean_value,
            corrupt_value=corrupt_value,
            **fields,
        )
    return results if isinstance(metric, Mapping) else results["metric"]
