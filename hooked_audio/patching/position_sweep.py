"""Patching sweeps over groups of positions of the language model, between two full inputs.

The stream views bind one audio, so clean and corrupt there may differ in text only (the LM
view) or audio only (the tower view). Audio-LM questions often need both to differ, or to
patch *where* in the language model's sequence the audio sits: this engine takes two complete
HF-style inputs (same length, audio placeholders at the same positions) and patches
`blocks.{l}.hook_{act}` over masks of positions: e.g. all audio positions, all text positions,
or the audio positions of one time window (`audio_window_cells`).

Like `hooked_audio.patching.layer_sweep`, every patched run resumes at layer `l` from the
cached base run, and all cells of a layer share one batched forward.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence, Union

import torch
from jaxtyping import Bool
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.directions import base_and_source
from hooked_audio.patching.sweep_result import SweepResult

#: Activations of the language model the engine patches, each `[batch, pos, d_model]`.
LM_ACTS = ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post")

Inputs = Mapping[str, Optional[Tensor]]


def check_pair(model, clean: Inputs, corrupt: Inputs) -> None:
    """Clean and corrupt inputs must line up position by position."""
    for name in ("input_ids", "attention_mask"):
        a, b = clean.get(name), corrupt.get(name)
        if (a is None) != (b is None) or (a is not None and a.shape != b.shape):
            raise ValueError(
                f"Clean and corrupt {name} differ in shape ({None if a is None else tuple(a.shape)} "
                f"vs {None if b is None else tuple(b.shape)}). Position-wise patching needs the same "
                "prompt length: use prompts of the same token count and clips of the same duration.")
    audio_clean = model.audio_positions(clean["input_ids"])
    if not torch.equal(audio_clean, model.audio_positions(corrupt["input_ids"])):
        raise ValueError("The audio placeholders sit at different positions in the clean and the "
                         "corrupt prompt (clips of different durations, or different text before "
                         "the audio). Pad or trim the clips to one duration and keep the text "
                         "before the audio the same length.")
    mask = clean.get("attention_mask")
    if mask is not None and not torch.equal(mask, corrupt["attention_mask"]):
        raise ValueError("Clean and corrupt attention_mask differ: pad both prompts the same way.")


def _as_masks(cells: Sequence[Union[Tensor, Sequence[int]]], shape: torch.Size) -> list[Tensor]:
    masks = []
    for cell in cells:
        if isinstance(cell, Tensor) and cell.dtype == torch.bool:
            mask = cell if cell.shape == shape else cell.expand(shape) if cell.ndim == 1 else None
            if mask is None:
                raise ValueError(f"A boolean cell must have shape {tuple(shape)} or ({shape[1]},).")
        else:
            positions = [int(p) for p in cell]
            if not positions or max(positions) >= shape[1] or min(positions) < -shape[1]:
                raise ValueError(f"Cell {cell!r} is empty or outside the {shape[1]} positions.")
            mask = torch.zeros(shape, dtype=torch.bool)
            mask[:, positions] = True
        masks.append(mask)
    return masks


@torch.no_grad()
def position_sweep(
    model,
    clean: Inputs,
    corrupt: Inputs,
    metric: Union[Callable[[Tensor], Tensor], Mapping[str, Callable[[Tensor], Tensor]]],
    cells: Sequence[Union[Bool[Tensor, "batch pos"], Sequence[int]]],
    labels: Sequence[str],
    act: str = "resid_pre",
    direction: str = "denoise",
    layers: Optional[Sequence[int]] = None,
    progress: bool = True,
    cell_seconds: Optional[list[tuple[float, float]]] = None,
) -> Union[SweepResult, dict[str, SweepResult]]:
    """Patch `blocks.{l}.hook_{act}` over each cell (a `[batch, pos]` / `[pos]` boolean mask or
    a list of positions) and evaluate `metric(logits)`.

    `clean` / `corrupt`: the model's keyword inputs (`input_ids`, `input_features`,
    `attention_mask`, `feature_attention_mask`, ...). `direction`: "denoise" (run corrupt,
    patch clean in) or "noise" (run clean, patch corrupt in). `metric` may be a mapping of
    names to metrics (a dict of results comes back).
    """
    metrics = dict(metric) if isinstance(metric, Mapping) else {"metric": metric}
    if act not in LM_ACTS:
        raise ValueError(f"act must be one of {LM_ACTS}, got {act!r}.")
    if len(labels) != len(cells):
        raise ValueError(f"{len(cells)} cells but {len(labels)} labels.")
    check_pair(model, clean, corrupt)
    base, source = base_and_source(direction, dict(clean), dict(corrupt))
    n_layers = model.cfg.n_layers
    layers = list(range(n_layers)) if layers is None else [int(l) for l in layers]
    if any(not 0 <= l < n_layers for l in layers):
        raise ValueError(f"Layers must lie in [0, {n_layers}), got {layers}.")
    starts = [f"blocks.{l}.hook_resid_pre" for l in layers]
    names = [f"blocks.{l}.hook_{act}" for l in layers]
    base_logits, base_cache = model.run_with_cache(**base, names_filter=starts + names)
    source_logits, source_cache = model.run_with_cache(**source, names_filter=names)
    clean_logits, corrupt_logits = ((source_logits, base_logits) if direction == "denoise"
                                    else (base_logits, source_logits))
    batch = base["input_ids"].shape[0]
    masks = _as_masks(cells, base["input_ids"].shape)
    stacked = torch.cat(masks).to(base_logits.device)[..., None]  # [cells * batch, pos, 1]
    attention_mask = base.get("attention_mask")
    attention_mask = None if attention_mask is None else attention_mask.repeat(len(masks), 1)
    position_ids = base.get("position_ids")
    position_ids = None if position_ids is None else position_ids.repeat(len(masks), 1)

    values = {name: torch.empty(len(layers), len(masks)) for name in metrics}
    for li, (layer, start, name) in enumerate(tqdm(list(zip(layers, starts, names)),
                                                   disable=not progress, desc=f"{act} sweep")):
        source_act = source_cache[name].repeat(len(masks), 1, 1)
        resid = base_cache[start].repeat(len(masks), 1, 1)
        if act == "resid_pre":
            logits = model.run_from(layer, torch.where(stacked, source_act, resid),
                                    attention_mask, position_ids)
        else:
            hook = lambda x, hook: torch.where(stacked, source_act, x)
            with model.hooks(fwd_hooks=[(name, hook)]):
                logits = model.run_from(layer, resid, attention_mask, position_ids)
        for k in range(len(masks)):
            for metric_name, fn in metrics.items():
                values[metric_name][li, k] = metric_value(fn, logits[k * batch:(k + 1) * batch])
    groups = [sorted(set(torch.nonzero(m)[:, 1].tolist())) for m in masks]
    results = {metric_name: SweepResult(
        values=values[metric_name], layers=layers, cells=groups, cell_labels=list(labels),
        act=act, direction=direction, clean_value=metric_value(fn, clean_logits),
        corrupt_value=metric_value(fn, corrupt_logits), cell_seconds=cell_seconds,
    ) for metric_name, fn in metrics.items()}
    return results if isinstance(metric, Mapping) else results["metric"]
