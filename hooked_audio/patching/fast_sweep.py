"""Fast residual-stream sweeps: same numbers as TransformerLens's generic loop, less compute.

TransformerLens's `get_act_patch_resid_pre` re-runs the whole model for every (layer, pos)
cell. Patching `blocks.{L}.hook_resid_pre` leaves everything before layer L as in the base
run, so this engine takes the base run's residual stream at layer L from one cached forward
and resumes from there (`view.resume_from`). For the decoder stream the audio is encoded
once by the view. Several cells can share one batched forward (`batch_size`), which pays
off on a GPU; on a 2-core CPU a batch-1 forward already keeps the cores busy.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.directions import base_and_source
from hooked_audio.patching.sweep_result import SweepResult

Cells = Sequence[Union[int, Sequence[int], slice]]


def _as_groups(cells: Optional[Cells], n_pos: int) -> list[list[int]]:
    if cells is None:
        return [[p] for p in range(n_pos)]
    groups = []
    for cell in cells:
        if isinstance(cell, slice):
            group = list(range(n_pos))[cell]
        elif isinstance(cell, int):
            group = [cell]
        else:
            group = [int(p) for p in cell]
        if not group or min(group) < -n_pos or max(group) >= n_pos:
            raise ValueError(f"Cell {cell!r} is empty or outside the {n_pos} positions.")
        groups.append(group)
    return groups


def _scalar(metric: Callable, logits: Tensor) -> float:
    value = torch.as_tensor(metric(logits))
    if value.ndim != 0:
        raise ValueError(f"The metric must return a scalar, got shape {tuple(value.shape)}; "
                         "reduce over the batch inside the metric (e.g. `.mean()`).")
    return float(value)


def prepare_resid_pre(view, clean: Tensor, corrupt: Tensor, direction: str,
                      layers: Optional[Sequence[int]]) -> tuple[Tensor, Tensor, list[int], list[str]]:
    """Validate a residual sweep's inputs: `(base_input, source_input, layers, hook names)`."""
    if clean.shape != corrupt.shape:
        raise ValueError(f"Clean and corrupt inputs differ in shape: {tuple(clean.shape)} vs "
                         f"{tuple(corrupt.shape)}. Patching by position needs them aligned: "
                         "pad or trim to the same length.")
    base_input, source_input = base_and_source(direction, clean, corrupt)
    n_layers = view.cfg.n_layers
    layers = list(range(n_layers)) if layers is None else [int(l) for l in layers]
    if any(not 0 <= l < n_layers for l in layers):
        raise ValueError(f"Layers must lie in [0, {n_layers}), got {layers}.")
    return base_input, source_input, layers, [f"blocks.{l}.hook_resid_pre" for l in layers]


def _default_batch_size(device: torch.device) -> int:
    return 1 if device.type == "cpu" else 32


@torch.no_grad()
def resid_pre_sweep(
    view,
    clean: Tensor,
    corrupt: Tensor,
    metric: Callable[[Tensor], Tensor],
    direction: str = "denoise",
    layers: Optional[Sequence[int]] = None,
    cells: Optional[Cells] = None,
    batch_size: Optional[int] = None,
    progress: bool = True,
    labels: Optional[Sequence[str]] = None,
) -> SweepResult:
    """Patch `blocks.{l}.hook_resid_pre` at each cell (a position or group of positions).

    `view` is a stream view (`model.encoder_stream(tokens)` with framed audio inputs, or
    `model.decoder_stream(audio)` with token inputs); `clean` / `corrupt` are its inputs.
    `direction="denoise"` runs the corrupt input with clean activations patched in;
    `"noise"` the reverse. Equal to TransformerLens's loop (tested to 1e-4).

    `cells`: None (every position), or positions / lists of positions / slices, e.g. from
    `hooked_audio.patching.time_cells` (`windows`, `spans`, `words`); `labels` names them.
    """
    base_input, source_input, layers, names = prepare_resid_pre(view, clean, corrupt, direction, layers)
    base_logits, base_cache = view.run_with_cache(base_input, names_filter=names)
    source_logits, source_cache = view.run_with_cache(source_input, names_filter=names)
    clean_logits, corrupt_logits = ((source_logits, base_logits) if direction == "denoise"
                                    else (base_logits, source_logits))
    n_pos = base_cache[names[0]].shape[1]
    groups = _as_groups(cells, n_pos)
    batch_size = batch_size or _default_batch_size(base_logits.device)

    values = torch.empty(len(layers), len(groups))
    bar = tqdm(total=len(layers) * len(groups), disable=not progress, desc="resid_pre sweep")
    for li, (layer, name) in enumerate(zip(layers, names)):
        base, source = base_cache[name], source_cache[name]
        batch = base.shape[0]
        for start in range(0, len(groups), batch_size):
            chunk = groups[start:start + batch_size]
            resid = base.repeat(len(chunk), 1, 1)
            for k, group in enumerate(chunk):
                resid[k * batch:(k + 1) * batch, group] = source[:, group]
            logits = view.resume_from(layer, resid)
            for k in range(len(chunk)):
                values[li, start + k] = _scalar(metric, logits[k * batch:(k + 1) * batch])
            bar.update(len(chunk))
    bar.close()
    return SweepResult(
        values=values, layers=layers, cells=groups,
        cell_labels=list(labels) if labels is not None else view.cell_labels(groups),
        cell_seconds=view.cell_seconds(groups),
        act="resid_pre", direction=direction,
        clean_value=_scalar(metric, clean_logits), corrupt_value=_scalar(metric, corrupt_logits),
    )
