"""A study's units of work and the worker that runs them.

A unit is one pair, direction and activation over a chunk of layers (all of the act's layers
unless `StudySpec.layer_chunk` says fewer): the grain at which a study is written, resumed and
shared out between workers. `StudyWorker` plans pairs and runs units on one model; the local
executor holds one, and on Ray every actor holds one, so the model is loaded once per worker.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from hooked_audio.models.family import ModelFamily
from hooked_audio.models.loading import model_family
from hooked_audio.patching import (
    adaptive_map,
    integrated_gradients,
    layer_sweep,
    verify_top_cells,
)
from hooked_audio.study.head_units import HEAD_STUDY_ACTS, head_unit
from hooked_audio.study.modes import ModeEngines, run_mode
from hooked_audio.study.pair_plan import PairPlan, plan_pair
from hooked_audio.study.rows import adaptive_rows, sweep_rows
from hooked_audio.study.spec import StudySpec


@dataclass(frozen=True)
class StudyUnit:
    key: str  # as written to done.jsonl: "pair|direction|act", "|layers a-b" when chunked
    pair: str
    direction: str
    act: str
    layers: tuple[int, ...]
    runs: int  # its cost (`unit_runs`), for the progress bar


def unit_runs(spec: StudySpec, act: str, n_layers: int, n_cells: int, n_heads: int) -> int:
    """A unit's cost in runs: patched runs when exact; for estimates, forward-equivalents
    (a forward and a backward over `steps` path points per layer, about 3 forwards each),
    plus the verified cells' patched runs."""
    if spec.mode in ("exact", "adaptive"):  # adaptive: at most the exact map's runs
        return n_layers * n_cells * n_heads
    estimate = 3 * spec.steps * n_layers
    verified = min(spec.verify_top_k, n_layers * n_cells * n_heads)
    return estimate + (verified if spec.mode == "verified" else 0)


def study_units(
    plans: list[PairPlan], spec: StudySpec, layers: dict[str, list[int]], n_heads: dict[str, int]
) -> list[StudyUnit]:
    """Every unit of a study, pair-major, in a fixed order."""
    units = []
    for plan in plans:
        for direction in spec.directions:
            for act in spec.acts:
                act_layers = layers[act]
                size = spec.layer_chunk or len(act_layers)
                for first in range(0, len(act_layers), size):
                    chunk = tuple(act_layers[first : first + size])
                    key = f"{plan.pair.id}|{direction}|{act}"
                    if spec.layer_chunk:
                        key += f"|layers {chunk[0]}-{chunk[-1]}"
                    runs = unit_runs(
                        spec, act, len(chunk), len(plan.cells.cells), n_heads.get(act, 1)
                    )
                    units.append(StudyUnit(key, plan.pair.id, direction, act, chunk, runs))
    return units


def layer_unit(family: ModelFamily, plan: PairPlan, unit: StudyUnit, spec: StudySpec, progress):
    """A unit of a whole-layer act, as `spec.mode` says: exact patching (`layer_sweep`,
    advancing `progress` per run), an adaptive exact map (`adaptive_map`), or
    integrated-gradients estimates (`integrated_gradients`) with, in mode 'verified', the
    largest cells patched exactly (the result's `exact` marks them)."""
    view = family.audio_stream(plan.contrast)
    args = (view, *plan.frames(family), plan.contrast.metric())
    common = dict(act=unit.act, direction=unit.direction, layers=list(unit.layers))
    cells = plan.cells.cells
    return run_mode(
        spec,
        ModeEngines(
            exact=lambda: layer_sweep(
                *args,
                **common,
                cells=cells,
                labels=plan.cells.labels,
                batch_size=spec.batch_size,
                progress=progress,
            ),
            adaptive=lambda: adaptive_map(
                *args,
                **common,
                cells=cells,
                window=spec.adaptive_window,
                threshold=spec.adaptive_threshold,
                top_k=spec.adaptive_top_k,
                batch_size=spec.batch_size,
                progress=False,
            ),
            estimate=lambda: integrated_gradients(
                *args, **common, cells=cells, steps=spec.steps, progress=False
            ),
            verify=lambda estimate: verify_top_cells(
                *args,
                estimate,
                act=unit.act,
                top_k=spec.verify_top_k,
                batch_size=spec.batch_size,
                progress=False,
            ),
        ),
    )


def _device(name) -> torch.device:
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {name!r} is not a torch device; e.g. 'cpu' or 'cuda'.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r}: this machine has no CUDA device; leave the device out to run "
            "on the CPU."
        )
    return device


class StudyWorker:
    """Plans pairs and runs units of one study on one model (any `ModelFamily`), on `device`
    (default: where the model is) in `spec.dtype`. A model on another device or in another
    precision is copied first unless `own_model` (a Ray actor's model is its own copy
    already)."""

    def __init__(self, model, spec: StudySpec, device=None, own_model: bool = False):
        family = model_family(model)
        dtype = getattr(torch, spec.dtype)
        device = _device(device) if device is not None else family.device
        if family.dtype != dtype or family.device != device:
            family = (family if own_model else copy.deepcopy(family)).to(device, dtype)
        self.family, self.spec = family, spec

    def plan(self, pair) -> tuple[PairPlan | None, dict | None]:
        return plan_pair(self.family, pair, self.spec)

    def run(self, plan: PairPlan, unit: StudyUnit, bar: tqdm | None = None) -> list[dict]:
        """The unit's rows. `bar` advances by the unit's runs (per run where the sweep is
        exact); None: no progress shown (a remote worker; the driver counts its units)."""
        spec, family = self.spec, self.family
        progress = bar if bar is not None else False
        if unit.act in HEAD_STUDY_ACTS:
            result = head_unit(
                family,
                plan,
                unit.act,
                unit.direction,
                list(unit.layers),
                plan.reference,
                spec,
                progress,
            )
        else:
            result = layer_unit(family, plan, unit, spec, progress)
        if spec.mode != "exact" and bar is not None:  # exact sweeps advance it per run
            bar.update(unit.runs)
        if spec.mode == "adaptive":  # whole-layer acts only (StudySpec checks)
            return adaptive_rows(plan, unit.key, unit.act, result)
        return sweep_rows(plan, unit.key, unit.act, result, spec.mode != "exact")

    def run_remote(self, plan: PairPlan, unit: StudyUnit) -> tuple[str, list[dict]]:
        """`run` without a bar, returning the unit's key with its rows (what an executor
        that gets results back in any order needs)."""
        return unit.key, self.run(plan, unit)
