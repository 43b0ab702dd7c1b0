"""Fast residual-stream sweeps: same numbers as TransformerLens's generic loop, less compute.

TransformerLens's `get_act_patch_resid_pre` re-runs the whole model for every (layer, pos)
cell. Patching `blocks.{L}.hook_resid_pre` leaves everything before layer L as in the base
run, so this engine takes the base run's residual stream at layer L from one cached forward
and resumes from there (`view.resume_from`). For the decoder stream the audio is encoded
once by the view. Several cells can share one batched forward (`batch_size`), which pays
off on a GPU; on a 2-core CPU a batch-1 forward already keeps the cores busy.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.cells import Cells, as_position_groups, metric_value
from hooked_audio.patching.directions import base_and_source
from hooked_audio.patching.sweep_result import SweepResult



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


#: Activations the engine patches, each `[batch, pos, ...]` at `blocks.{l}.<name>`.
LAYER_ACTS = ("resid_pre", "attn_out", "resid_mid", "cross_attn_out", "resid_mid_cross",
              "mlp_out", "resid_post")


def _patch_rows(target: Tensor, source: Tensor, chunk: list[list[int]], batch: int) -> Tensor:
    """Copy `source[:, group]` into rows `k * batch ...` of `target` for the k-th group."""
    for k, group in enumerate(chunk):
        target[k * batch:(k + 1) * batch, group] = source[:, group]
    return target


@torch.no_grad()
def layer_sweep(
    view,
    clean: Tensor,
    corrupt: Tensor,
    metric: Union[Callable[[Tensor], Tensor], Mapping[str, Callable[[Tensor], Tensor]]],
    act: str = "resid_pre",
    direction: str = "denoise",
    layers: Optional[Sequence[int]] = None,
    cells: Optional[Cells] = None,
    batch_size: Optional[int] = None,
    progress: bool = True,
    labels: Optional[Sequence[str]] = None,
) -> SweepResult:
    """Patch `blocks.{l}.hook_{act}` at each cell (a position or group of positions).

    `view` is a stream view (`model.encoder_stream(tokens)` with framed audio inputs, or
    `model.decoder_stream(audio)` with token inputs); `clean` / `corrupt` are its inputs.
    `direction="denoise"` runs the corrupt input with clean activations patched in;
    `"noise"` the reverse. `act` is one of `LAYER_ACTS` (`cross_attn_out` and
    `resid_mid_cross` on the decoder). Equal to TransformerLens's loop (tested to 1e-4).

    Every run starts at `blocks.{l}.hook_resid_pre` from the cached base run (the layers
    before are the same in every patched run); `resid_pre` is patched there directly, other
    activations by a hook inside block `l`.

    `cells`: None (every position), or positions / lists of positions / slices, e.g. from
    `hooked_audio.patching.time_cells` (`windows`, `spans`, `words`); `labels` names them.

    `metric` may be a mapping of names to metrics: all are evaluated on every patched run,
    and the result is a dict of `SweepResult`s with the same keys.
    """
    metrics = dict(metric) if isinstance(metric, Mapping) else {"metric": metric}
    if not metrics:
        raise ValueError("The metric mapping is empty.")
    if act not in LAYER_ACTS:
        raise ValueError(f"act must be one of {LAYER_ACTS}, got {act!r}.")
    base_input, source_input, layers, starts = prepare_resid_pre(view, clean, corrupt, direction, layers)
    names = [f"blocks.{l}.hook_{act}" for l in layers]
    if names[0] not in view.hook_dict:
        raise ValueError(f"This stream has no {names[0]!r} (cross-attention lives on the decoder).")
    base_logits, base_cache = view.run_with_cache(base_input, names_filter=starts + names)
    source_logits, source_cache = view.run_with_cache(source_input, names_filter=names)
    clean_logits, corrupt_logits = ((source_logits, base_logits) if direction == "denoise"
                                    else (base_logits, source_logits))
    groups = as_position_groups(cells, base_cache[names[0]].shape[1])
    batch_size = batch_size or _default_batch_size(base_logits.device)

    values = {metric_name: torch.empty(len(layers), len(groups)) for metric_name in metrics}
    bar = tqdm(total=len(layers) * len(groups), disable=not progress, desc=f"{act} sweep")
    for li, (layer, start_name, name) in enumerate(zip(layers, starts, names)):
        start_resid, source = base_cache[start_name], source_cache[name]
        batch = start_resid.shape[0]
        for first in range(0, len(groups), batch_size):
            chunk = groups[first:first + batch_size]
            resid = start_resid.repeat(len(chunk), 1, 1)
            if act == "resid_pre":
                logits = view.resume_from(layer, _patch_rows(resid, source, chunk, batch))
            else:
                hook = lambda x, hook, chunk=chunk: _patch_rows(x.clone(), source, chunk, batch)
                with view.hooks(fwd_hooks=[(name, hook)]):
                    logits = view.resume_from(layer, resid)
            for k in range(len(chunk)):
                for metric_name, fn in metrics.items():
                    values[metric_name][li, first + k] = metric_value(fn, logits[k * batch:(k + 1) * batch])
            bar.update(len(chunk))
    bar.close()
    results = {metric_name: SweepResult(
        values=values[metric_name], layers=layers, cells=groups,
        cell_labels=list(labels) if labels is not None else view.cell_labels(groups),
        cell_seconds=view.cell_seconds(groups),
        act=act, direction=direction,
        clean_value=metric_value(fn, clean_logits), corrupt_value=metric_value(fn, corrupt_logits),
    ) for metric_name, fn in metrics.items()}
    return results if isinstance(metric, Mapping) else results["metric"]


def resid_pre_sweep(view, clean: Tensor, corrupt: Tensor, metric: Callable[[Tensor], Tensor],
                    **kwargs) -> SweepResult:
    """`layer_sweep` of `blocks.{l}.hook_resid_pre` (see there for the arguments)."""
    return layer_sweep(view, clean, corrupt, metric, act="resid_pre", **kwargs)
