"""`run_study`: every pair of a set, patched per layer and cell, in both directions, into one
table of results; the command line's `hooked-audio study` and a notebook call the same code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hooked_audio.pairs import MinimalPair
from hooked_audio.patching import (
    adaptive_map,
    integrated_gradients,
    layer_sweep,
    verify_top_cells,
)
from hooked_audio.patching.checks import check_layers
from hooked_audio.patching.time_cells import TimeCells
from hooked_audio.study.contrast import WordContrast, word_contrast
from hooked_audio.study.head_units import HEAD_STUDY_ACTS, head_layers, head_unit
from hooked_audio.study.pair_cells import pair_cells
from hooked_audio.study.result import StudyResult
from hooked_audio.study.spec import StudySpec
from hooked_audio.study.store import StudyStore


@dataclass
class _PairPlan:
    pair: MinimalPair
    contrast: WordContrast
    cells: TimeCells
    clean: torch.Tensor
    corrupt: torch.Tensor
    reference: tuple[float, float]  # the metric on the clean and the corrupt clip


def _plan(model, pair: MinimalPair, spec: StudySpec) -> tuple[_PairPlan | None, dict | None]:
    """The pair ready to sweep, or why it is left out."""
    try:
        contrast = word_contrast(model, pair)
    except ValueError as error:
        return None, {"pair": pair.id, "reason": str(error)}
    clean, corrupt = model.to_frames(pair.clean_audio), model.to_frames(pair.corrupt_audio)
    metric = contrast.metric()
    with torch.no_grad():
        clean_value = float(metric(model(clean, contrast.tokens)))
        corrupt_value = float(metric(model(corrupt, contrast.tokens)))
    gap = clean_value - corrupt_value
    if not abs(gap) >= spec.min_gap:
        return None, {
            "pair": pair.id,
            "reason": f"clean-corrupt gap {gap:.3g} is below min_gap {spec.min_gap:g}: the "
            "corruption barely moves the metric, so recovery would be noise",
            "clean_value": clean_value,
            "corrupt_value": corrupt_value,
        }
    step = model.window_seconds / model.dims.n_audio_ctx
    cells = pair_cells(pair, spec.granularity, model.dims.n_audio_ctx, step)
    return _PairPlan(pair, contrast, cells, clean, corrupt, (clean_value, corrupt_value)), None


def _row(plan: _PairPlan, unit: str, act: str, result, **cell) -> dict:
    """One row: the pair, the unit, the patched site and cell (`cell`: layer, head, cell,
    label, start_s, end_s, value, exact, normalised, n_cells) and the unpatched values."""
    pair, span = plan.pair, plan.pair.spans_s[0]
    return {
        "unit": unit,
        "pair": pair.id,
        "kind": pair.kind,
        "direction": result.direction,
        "act": act,
        **cell,
        "onset_s": span[0],
        "offset_s": span[1],
        "rel_start_s": cell["start_s"] - span[0],
        "rel_end_s": cell["end_s"] - span[0],
        "changed_word": plan.contrast.clean_word,
        "replacement": plan.contrast.replacement,
        "clean_value": result.clean_value,
        "corrupt_value": result.corrupt_value,
    }


def _rows(
    plan: _PairPlan,
    unit: str,
    act: str,
    result,
    seconds: list[tuple[float, float]],
    estimated: bool = False,
) -> list[dict]:
    """One row per layer and cell of `result`; a head sweep's cells are head-major
    (`h * n_cells + c`), each of the pair's cells once per head."""
    normalised = result.normalised()
    exact = (  # an estimate marks its verified cells; an exact sweep is exact throughout
        result.exact
        if result.exact is not None
        else torch.full(result.values.shape, not estimated, dtype=torch.bool)
    )
    n_cells = len(plan.cells.cells)
    per_head = result.values.shape[1] != n_cells
    rows = []
    for li, layer in enumerate(result.layers):
        for ci in range(result.values.shape[1]):
            head, cell = divmod(ci, n_cells) if per_head else (None, ci)
            start, end = seconds[cell]
            rows.append(
                _row(
                    plan,
                    unit,
                    act,
                    result,
                    layer=layer,
                    head=head,
                    cell=cell,
                    label=plan.cells.labels[cell],
                    start_s=start,
                    end_s=end,
                    value=float(result.values[li, ci]),
                    exact=bool(exact[li, ci]),
                    normalised=float(normalised[li, ci]),
                    n_cells=1,
                )
            )
    return rows


def _adaptive_rows(
    plan: _PairPlan, unit: str, act: str, results, seconds: list[tuple[float, float]]
) -> list[dict]:
    """One row per window an adaptive map reports: a single cell as in `_rows`, or the cells
    it left unsplit together (`n_cells` of them, from its first cell's start to its last's
    end, labelled `first…last`), with the exact value of patching them together."""
    labels, rows = plan.cells.labels, []
    for result in results:
        normalised = result.normalised()[0]
        for ci, members in enumerate(result.metadata["members"]):
            first, last = members[0], members[-1]
            rows.append(
                _row(
                    plan,
                    unit,
                    act,
                    result,
                    layer=result.layers[0],
                    head=None,
                    cell=first,
                    label=labels[first] if first == last else f"{labels[first]}…{labels[last]}",
                    start_s=seconds[first][0],
                    end_s=seconds[last][1],
                    value=float(result.values[0, ci]),
                    exact=True,
                    normalised=float(normalised[ci]),
                    n_cells=len(members),
                )
            )
    return rows


def unit_runs(spec: StudySpec, act: str, n_layers: int, n_cells: int, n_heads: int) -> int:
    """A unit's cost in runs: patched runs when exact; for estimates, forward-equivalents
    (a forward and a backward over `steps` path points per layer, about 3 forwards each),
    plus the verified cells' patched runs."""
    if spec.mode in ("exact", "adaptive"):  # adaptive: at most the exact map's runs
        return n_layers * n_cells * n_heads
    estimate = 3 * spec.steps * n_layers
    verified = min(spec.verify_top_k, n_layers * n_cells * n_heads)
    return estimate + (verified if spec.mode == "verified" else 0)


def layer_unit(model, plan: _PairPlan, act: str, direction: str, layers, spec: StudySpec, bar):
    """One unit of a whole-layer act, as `spec.mode` says: exact patching (`layer_sweep`,
    advancing `bar` per run; the caller advances it for the other modes), an adaptive exact
    map (`adaptive_map`), or integrated-gradients estimates (`integrated_gradients`) with, in
    mode 'verified', the largest cells patched exactly (the result's `exact` marks them)."""
    view = model.encoder_stream(plan.contrast.tokens)
    args = (view, plan.clean, plan.corrupt, plan.contrast.metric())
    cells = plan.cells.cells
    if spec.mode == "exact":
        return layer_sweep(
            *args,
            act=act,
            direction=direction,
            layers=layers,
            cells=cells,
            labels=plan.cells.labels,
            batch_size=spec.batch_size,
            progress=bar,
        )
    if spec.mode == "adaptive":
        return adaptive_map(
            *args,
            act=act,
            direction=direction,
            layers=layers,
            cells=cells,
            window=spec.adaptive_window,
            threshold=spec.adaptive_threshold,
            batch_size=spec.batch_size,
            progress=False,
        )
    result = integrated_gradients(
        *args, act, direction, layers=layers, cells=cells, steps=spec.steps, progress=False
    )
    if spec.mode == "verified":
        result = verify_top_cells(
            *args,
            result,
            act=act,
            top_k=spec.verify_top_k,
            batch_size=spec.batch_size,
            progress=False,
        )
    return result


def run_study(
    model,
    pairs: Iterable[MinimalPair],
    spec: StudySpec | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    out: Callable[[str], None] = print,
    model_name: str = "",
) -> StudyResult:
    """Patch every pair's encoder activations (`spec.acts`) at every layer and cell
    (`spec.granularity`) in each direction, and collect one tidy table.

    The metric of each content pair is `word_contrast(model, pair).metric()`: the logit
    difference between the clean word's and the replacement's first token where the decoder
    predicts the word. Pairs without one changed word, or whose clean-corrupt gap is below
    `spec.min_gap`, are left out and listed in `result.skipped` (with why).

    Prints the cost (patched runs, and a time estimate from one measured forward) before it
    starts; shows one progress bar; with `out_dir`, writes the rows as it goes and resumes a
    stopped study there (see `hooked_audio.study.store`).
    """
    spec = spec or StudySpec()
    pairs = list(pairs)
    ids = [p.id for p in pairs]
    if len(set(ids)) != len(ids):
        raise ValueError(
            f"Pair ids must be unique in a study; repeated: "
            f"{sorted({i for i in ids if ids.count(i) > 1})}."
        )
    store = StudyStore(out_dir, spec, model_name)
    layers = {
        act: check_layers(
            spec.layers,
            head_layers(model, act) if act in HEAD_STUDY_ACTS else model.dims.n_audio_layer,
        )
        for act in spec.acts
    }
    n_heads = {"encoder_heads": model.dims.n_audio_head, "cross_heads": model.dims.n_text_head}
    plans, skipped = [], []
    for pair in pairs:
        plan, why = _plan(model, pair, spec)
        if plan is None:
            skipped.append(why)
        else:
            plans.append(plan)
    store.write_skipped(skipped)
    units = [
        (plan, direction, act, f"{plan.pair.id}|{direction}|{act}")
        for plan in plans
        for direction in spec.directions
        for act in spec.acts
    ]
    todo = [u for u in units if u[3] not in store.done]
    n_runs = sum(
        unit_runs(spec, act, len(layers[act]), len(plan.cells.cells), n_heads.get(act, 1))
        for plan, _, act, _ in todo
    )
    if todo:
        start = time.perf_counter()
        with torch.no_grad():
            model(todo[0][0].clean, todo[0][0].contrast.tokens)
        per_forward = time.perf_counter() - start
        minutes = per_forward * (n_runs + 2 * len(todo)) / 60
        done = (
            f" {len(units) - len(todo)} of {len(units)} units already done." if store.done else ""
        )
        what = {
            "exact": "patched runs",
            "adaptive": "patched runs at most (adaptive: fewer where windows are left whole)",
        }.get(spec.mode, f"forward-equivalents ({spec.mode})")
        out(
            f"Study: {len(plans)} pairs ({len(skipped)} left out) x {len(spec.directions)} "
            f"direction(s) x {len(spec.acts)} activation(s) x "
            f"{max(len(layer_list) for layer_list in layers.values())} layer(s): {n_runs} "
            f"{what} + {2 * len(todo)} base runs, at most ~{minutes:.1f} min (one "
            f"forward {per_forward:.2f} s; runs resume at the patched layer, so less).{done}"
        )
    bar = tqdm(total=n_runs, disable=not progress, desc="study")
    for plan, direction, act, unit in todo:
        if act in HEAD_STUDY_ACTS:
            result = head_unit(model, plan, act, direction, layers[act], plan.reference, spec, bar)
        else:
            result = layer_unit(model, plan, act, direction, layers[act], spec, bar)
        if spec.mode != "exact":  # exact sweeps advance the bar per run themselves
            bar.update(
                unit_runs(spec, act, len(layers[act]), len(plan.cells.cells), n_heads.get(act, 1))
            )
        seconds = model.encoder_stream(plan.contrast.tokens).cell_seconds(plan.cells.cells)
        if spec.mode == "adaptive":  # whole-layer acts only (StudySpec checks)
            rows = _adaptive_rows(plan, unit, act, result, seconds)
        else:
            rows = _rows(plan, unit, act, result, seconds, estimated=spec.mode != "exact")
        store.add_unit(unit, rows)
    bar.close()
    return StudyResult.from_rows(store.rows, skipped, spec)
