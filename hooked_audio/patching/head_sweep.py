"""Per-head patching at any attention hook of a stream, cross-attention included.

`transformer_lens.utilities.get_act_name` builds `blocks.{l}.attn.hook_z` and cannot name a
decoder block's `cross_attn`, so TransformerLens's head functions cannot reach the heads
that read the audio. This sweep patches one head at a time at `blocks.{l}.{component}.hook_{act}`
(`component` "attn" or "cross_attn", `act` in z / q / k / v / pattern / result), over all
positions or position by position, on the one sweep engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hooked_audio.patching.checks import check_batch_size, check_direction, check_layers
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import (
    HookSpec,
    as_metrics,
    collect_results,
    resume_names,
    sweep_cells,
)
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput

HEAD_ACTS = ("z", "q", "k", "v", "pattern", "result")
COMPONENTS = ("attn", "cross_attn")


@dataclass
class HeadPatch:
    """One head of `blocks.{l}.{component}.hook_{act}` (at one position, or all), from the
    source cache. Cells are `(head, pos)` pairs, `pos` None for every position."""

    component: str
    act: str
    cells: list[tuple[int, int | None]]
    source_cache: object

    def resume_layer(self, layer: int) -> int:
        return layer

    def index(self, head: int, pos: int | None) -> tuple:
        if self.act == "pattern":  # [batch, head, query, key]
            return (slice(None), head) if pos is None else (slice(None), head, pos)
        return (slice(None), slice(None), head) if pos is None else (slice(None), pos, head)

    def apply(
        self, layer: int, cells: list[int], resid: Tensor, rows: int
    ) -> tuple[Tensor, list[HookSpec]]:
        name = f"blocks.{layer}.{self.component}.hook_{self.act}"
        source = self.source_cache[name]

        def patch(activation: Tensor, hook) -> Tensor:
            activation = activation.clone()
            for k, cell in enumerate(cells):
                index = self.index(*self.cells[cell])
                activation[k * rows : (k + 1) * rows][index] = source[index]
            return activation

        return resid, [(name, patch)]


def head_sweep(
    base_view: AudioStream,
    base_input: StreamInput,
    source_cache,
    metric: Callable[[Tensor], Tensor],
    component: str = "cross_attn",
    act: str = "z",
    by_pos: bool = False,
    layers: Sequence[int] | None = None,
    direction: Direction = "denoise",
    reference_values: tuple[float, float] = (float("nan"), float("nan")),
    progress: bool = True,
    batch_size: int | None = None,
) -> SweepResult:
    """Run the base input once per (layer, head[, pos]) with that head's `act` taken from
    `source_cache` (a cache of the same model's view, keyed by local names); each run
    resumes at the patched layer from the cached base run.

    Returns a `SweepResult` whose cells are heads (or head x position, flattened head-major,
    when `by_pos`). `reference_values` = (clean, corrupt) metric values for normalisation
    (the caller ran those inputs; NaN when unknown).
    """
    metrics = as_metrics(metric)
    if component not in COMPONENTS:
        raise ValueError(f"component must be one of {COMPONENTS}, got {component!r}.")
    if act not in HEAD_ACTS:
        raise ValueError(f"act must be one of {HEAD_ACTS}, got {act!r}.")
    check_direction(direction)
    source_model = getattr(source_cache.model, "model", source_cache.model)
    if source_model is not base_view.model:
        raise ValueError(
            "The source cache comes from a different model than the view: patch "
            "between runs of one model (cache with `view.run_with_cache`)."
        )
    layers = check_layers(layers, base_view.cfg.n_layers)
    batch_size = check_batch_size(batch_size, base_view.device)
    names = [f"blocks.{layer}.{component}.hook_{act}" for layer in layers]
    if names[0] not in base_view.hook_dict:
        raise ValueError(
            f"This stream has no {names[0]!r}: `component` must be an attention "
            "of this stack (cross_attn exists on Whisper's decoder only)."
        )
    missing = [name for name in names if name not in source_cache.cache_dict]
    if missing:
        raise KeyError(
            f"The source cache has no {missing[0]!r}: cache it with "
            f"`view.run_with_cache(x)` (for `result`, enable use_attn_result)."
        )
    n_heads = source_cache[names[0]].shape[1 if act == "pattern" else 2]
    n_pos = source_cache[names[0]].shape[2 if act == "pattern" else 1]
    cells = [(h, p) for h in range(n_heads) for p in (range(n_pos) if by_pos else [None])]
    with torch.no_grad():
        _, base_cache = base_view.run_with_cache(
            base_input, names_filter=resume_names(layers, base_view.cfg.n_layers)
        )
    labels = [f"H{h}" if p is None else f"H{h}@{p}" for h, p in cells]
    values = sweep_cells(
        base_view,
        base_cache,
        HeadPatch(component, act, cells, source_cache),
        layers,
        len(cells),
        metrics,
        batch_size,
        progress,
        f"{component} {act} heads",
        labels,
    )
    return collect_results(
        metric,
        metrics,
        values,
        None,
        reference_values,
        layers=layers,
        cells=[[h] for h, _ in cells],
        cell_labels=labels,
        act=f"{component}.{act}",
        direction=direction,
    )
