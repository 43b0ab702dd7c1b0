"""Patching sweeps over groups of positions, between two complete inputs of a model.

Stream views bind every input but one, so their clean and corrupt runs may differ in that
input only (text only on an audio LM's language-model view, audio only on its tower view).
Audio-LM questions often need both to differ, or to patch *where* in the sequence the audio
sits: this sweep takes two complete keyword inputs (same length, audio at the same
positions) and patches `blocks.{l}.hook_{act}` over masks of positions: all audio positions,
all text positions, or the audio positions of one time window.

It needs two things of the model (`WholeInputModel`): `run_with_cache(**inputs)` and
`check_aligned_inputs(clean, corrupt)`, plus `input_stream(inputs)`: a stream view whose
`resume_from` continues a run of those inputs (their masks bound). Every patched run
resumes at layer `l` from the cached base run, on the one sweep engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, Union, runtime_checkable

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from hooked_audio.checks import check_batch_size, check_labels, check_layers
from hooked_audio.patching.cells import as_position_groups
from hooked_audio.patching.checks import check_layer_act
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.engine import Metric, run_sweep
from hooked_audio.patching.layer_sweep import LayerActPatch
from hooked_audio.patching.runs import run_base_and_source
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream

Inputs = Mapping[str, Tensor | None]
Cell = Union[Bool[Tensor, "batch pos"], Bool[Tensor, " pos"], Sequence[int]]


@runtime_checkable
class WholeInputModel(Protocol):
    """What `position_sweep` needs of a model (HookedAudioLM has it)."""

    def run_with_cache(self, *args: Any, **inputs: Any) -> tuple: ...

    def check_aligned_inputs(self, clean: Inputs, corrupt: Inputs) -> None: ...

    def input_stream(self, inputs: Inputs) -> AudioStream: ...


@dataclass
class MaskPatch(LayerActPatch):
    """`blocks.{l}.hook_{act}` where a cell's `[batch, pos]` mask is True, from the source
    run."""

    masks: list[Bool[Tensor, "batch pos"]]

    def replace(
        self,
        x: Float[Tensor, "cell_rows pos d_model"],
        source: Float[Tensor, "rows pos d_model"],
        cells: list[int],
        rows: int,
    ) -> Float[Tensor, "cell_rows pos d_model"]:
        mask = torch.cat([self.masks[c] for c in cells]).to(x.device)[..., None]
        return torch.where(mask, source.repeat(len(cells), 1, 1), x)


def _as_masks(cells: Sequence[Cell], shape: torch.Size) -> list[Bool[Tensor, "batch pos"]]:
    """Each cell as a `[batch, pos]` boolean mask (a `[pos]` mask serves every row)."""
    if not cells:
        raise ValueError("`cells` is empty: give at least one mask or list of positions.")
    masks = []
    for cell in cells:
        if isinstance(cell, Tensor) and cell.dtype == torch.bool:
            if tuple(cell.shape) == tuple(shape):
                mask = cell
            elif tuple(cell.shape) == (shape[1],):
                mask = cell.expand(shape)
            else:
                raise ValueError(
                    f"A boolean cell must have shape {tuple(shape)} or "
                    f"({shape[1]},), got {tuple(cell.shape)}."
                )
            if not mask.any():
                raise ValueError("A boolean cell selects no position.")
        else:
            mask = torch.zeros(shape, dtype=torch.bool)
            mask[:, as_position_groups([cell], shape[1])[0]] = True
        masks.append(mask)
    return masks


def position_sweep(
    model: WholeInputModel,
    clean: Inputs,
    corrupt: Inputs,
    metric: Metric,
    cells: Sequence[Cell],
    labels: Sequence[str],
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    progress: bool = True,
    cell_seconds: list[tuple[float, float]] | None = None,
    batch_size: int | None = None,
) -> SweepResult | dict[str, SweepResult]:
    """Patch `blocks.{l}.hook_{act}` over each cell (a `[batch, pos]` / `[pos]` boolean mask or
    a list of positions) and evaluate `metric(logits)`.

    `clean` / `corrupt`: the model's keyword inputs (`input_ids`, `input_features`,
    `attention_mask`, `feature_attention_mask`, ...). `direction`: "denoise" (run corrupt,
    patch clean in) or "noise" (run clean, patch corrupt in). `metric` may be a mapping of
    names to metrics (a dict of results comes back). `batch_size`: cells per forward (default
    all cells of a layer in one forward).
    """
    labels = check_labels(labels, len(cells)) or []
    if cell_seconds is not None and len(cell_seconds) != len(cells):
        raise ValueError(f"{len(cells)} cells but {len(cell_seconds)} cell_seconds.")
    model.check_aligned_inputs(clean, corrupt)
    input_ids = clean.get("input_ids")
    if input_ids is None:
        raise ValueError("The inputs need `input_ids`: the cells are masks over their positions.")
    masks = _as_masks(cells, input_ids.shape)
    view = model.input_stream(base_and_source(direction, clean, corrupt)[0])
    act = check_layer_act(view, act)
    layers = check_layers(layers, view.cfg.n_layers)
    whole_runs = partial(
        run_base_and_source,
        lambda inputs, names_filter: model.run_with_cache(**inputs, names_filter=names_filter),
        dict(clean),
        dict(corrupt),
        direction,
    )
    return run_sweep(
        view,
        whole_runs,
        MaskPatch(act, masks),
        layers,
        [sorted(set(torch.nonzero(m)[:, 1].tolist())) for m in masks],
        labels,
        metric,
        check_batch_size(len(masks) if batch_size is None else batch_size, view.device),
        progress,
        f"{act} sweep",
        act=act,
        cell_seconds=cell_seconds,
    )
