"""`run_study`: every pair of a set, patched per layer and cell, in both directions, into one
table of results; the command line's `hooked-audio study` and a notebook call the same code.
Where the work runs is the executor's business (`LocalExecutor` in this process by default,
`RayExecutor` on a Ray cluster); the numbers do not depend on it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from hooked_audio.checks import check_layers, check_unique
from hooked_audio.models.family import GroundedFamily, ModelFamily
from hooked_audio.models.loading import model_family
from hooked_audio.pairs import MinimalPair
from hooked_audio.study.head_units import HEAD_STUDY_ACTS
from hooked_audio.study.local_executor import LocalExecutor
from hooked_audio.study.result import StudyResult
from hooked_audio.study.spec import StudySpec
from hooked_audio.study.store import StudyStore
from hooked_audio.study.units import study_units


def run_study(
    model,
    pairs: Iterable[MinimalPair],
    spec: StudySpec | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    out: Callable[[str], None] = print,
    model_name: str = "",
    executor=None,
) -> StudyResult:
    """Patch every pair's audio-stream activations (`spec.acts`) at every layer and cell
    (`spec.granularity`) in each direction, and collect one tidy table.

    `model`: a `HookedWhisper`, a `HookedAudioEncoder` with its CTC head and characters, or any
    `hooked_audio.models.family.ModelFamily`. The metric of each content pair is the family's
    `pair_contrast(pair).metric()`: on Whisper the logit difference between the clean word's
    and the replacement's first token where the decoder predicts the word; on a CTC encoder the
    log-likelihood difference of the clean and corrupt transcripts. Pairs without one changed
    word, or whose clean-corrupt gap is below `spec.min_gap`, are left out and listed in
    `result.skipped` (with why).

    A Whisper pair longer than the 30 s window (a word changed in a long recording) is patched
    in the one window where its clean and corrupt recordings differ, the only one whose metric
    the change can move (`hooked_audio.models.whisper.long_pair`); its cells, rows and
    time-axis checks are in seconds of the recording. A long pair that differs in several
    windows, or lacks the word times that cut its transcript to the window, is left out with
    why, as is one longer than an audio LM's window.

    Prints the cost (patched runs, and a time estimate from one measured forward) before it
    starts; shows one progress bar; with `out_dir`, writes the rows as each unit finishes and
    resumes a stopped study there (see `hooked_audio.study.store`). `executor`: where the
    pairs are planned and the units run (default `LocalExecutor()`, this process; a
    `RayExecutor` shares them out over a Ray cluster, with the same numbers).
    """
    spec = spec or StudySpec()
    pairs = list(pairs)
    check_unique([p.id for p in pairs], "Pair ids in a study")
    store = StudyStore(out_dir, spec, model_name)
    family = model_family(model)
    check_acts(family, spec.acts)
    stacks = {act: study_stack(act) for act in spec.acts}
    layers = {act: check_layers(spec.layers, family.layers(stack)) for act, stack in stacks.items()}
    n_heads = {act: family.heads(stacks[act]) for act in spec.acts if act in HEAD_STUDY_ACTS}
    store.open()  # every argument checked: only now is anything written
    executor = executor or LocalExecutor()
    executor.start(family, spec)
    try:
        plans, skipped = [], []
        for plan, why in executor.plan(pairs):
            if plan is None:
                skipped.append(why)
            else:
                plans.append(plan)
        store.write_skipped(skipped)
        if not plans:
            raise ValueError(_none_studied(pairs, skipped))
        units = study_units(plans, spec, layers, n_heads)
        plan_of = {plan.pair.id: plan for plan in plans}
        todo = [(plan_of[unit.pair], unit) for unit in units if unit.key not in store.done]
        n_runs = sum(unit.runs for _, unit in todo)
        if todo:
            out(
                _cost_line(
                    family, spec, todo, n_runs, len(units), plans, len(skipped), layers, store
                )
                + _windows_line(plans)
            )
        bar = tqdm(total=n_runs, disable=not progress, desc="study")
        for key, rows in executor.run(todo, bar):
            store.add_unit(key, rows)
        bar.close()
    finally:
        executor.stop()
    time_axis = _time_axis(family, plans, spec, out)
    store.write_time_axis(time_axis)
    grounding = grounding_rows(family, plans, spec, progress)
    store.write_grounding(grounding)
    return StudyResult.from_rows(store.rows, skipped, spec, time_axis, grounding)


def study_stack(act: str) -> str:
    """The stack a study act patches: "audio", or "text" for Whisper's cross-attention heads."""
    return HEAD_STUDY_ACTS[act].stack if act in HEAD_STUDY_ACTS else "audio"


def check_acts(family: ModelFamily, acts: Iterable[str]) -> None:
    """Refuse a head activation the family does not have (cross-attention on an encoder)."""
    missing = [act for act in acts if act in HEAD_STUDY_ACTS and act not in family.head_acts]
    if missing:
        raise ValueError(
            f"{family.name} has no {', '.join(missing)} to study; its head activations are "
            f"{family.head_acts} (cross_heads needs an encoder-decoder model: Whisper)."
        )


def _time_axis(family, plans, spec: StudySpec, out: Callable[[str], None]) -> list[dict]:
    """The time-axis check of the pairs whose word times are the model's estimate, run here
    (a few short sweeps per pair), with one line per suspect pair."""
    from hooked_audio.study.time_axis_study import time_axis_rows

    rows = [row for plan in plans for row in time_axis_rows(family, plan, spec)]
    for row in rows:
        if row["suspect"]:
            out(
                f"Check {row['pair']}: its word times are the model's estimate and the word "
                f"cells may misplace the effect. {row['sentence']}"
            )
    return rows


#: a grounding row's values where the pair's metric has no clean-corrupt gap to share out
UNMEASURED = dict.fromkeys(("audio_effect", "text_effect", "both_effect", "grounding"), math.nan)
UNMEASURED["mixed_sign"] = False


def grounding_rows(family, plans, spec: StudySpec, progress: bool = False) -> list[dict]:
    """For a family whose language model reads audio and text positions (an audio LM), each
    pair's grounding coefficient per language-model layer and direction
    (`hooked_audio.analysis.grounding`): one row per pair, direction and layer with the
    effects of patching the audio positions, the text positions and both (fractions of the
    clean-corrupt gap), the coefficient (NaN where neither patch moves the metric) and whether
    the two effects have opposite signs. No rows for other families."""
    if not isinstance(family, GroundedFamily):
        return []
    rows = []
    work = [(plan, direction) for plan in plans for direction in spec.directions]
    for plan, direction in tqdm(work, disable=not progress, desc="grounding"):
        try:
            result = family.grounding(
                plan.contrast, plan.pair.clean_audio, plan.pair.corrupt_audio, direction
            )
        except ValueError:  # no clean-corrupt gap (a study with min_gap=0): nothing to share
            rows += [
                {"pair": plan.pair.id, "direction": direction, "layer": layer, **UNMEASURED}
                for layer in range(family.layers("text"))
            ]
            continue
        for row in result.to_dataframe().to_dict("records"):
            rows.append({"pair": plan.pair.id, "direction": direction, **row})
    return rows


def _none_studied(pairs: list[MinimalPair], skipped: list[dict]) -> str:
    """Why a study has nothing to run: every pair was left out (or there were none)."""
    if not pairs:
        return "The study has no pairs: the pair set is empty."
    reasons = "\n".join(f"  {skip['pair']}: {skip['reason']}" for skip in skipped)
    return (
        f"No pair could be studied: all {len(pairs)} were left out (listed in skipped.json when "
        f"the study has a folder):\n{reasons}"
    )


def _windows_line(plans) -> str:
    """What runs of the pairs longer than the model's window: only their window of change, so
    the cost line's forwards are all one window long; empty when every pair fits one window."""
    long = [plan for plan in plans if plan.n_windows > 1]
    if not long:
        return ""
    shown = ", ".join(
        f"{plan.pair.id}: window {plan.window} (from 0) of {plan.n_windows}, "
        f"{plan.start_s:g}-{plan.end_s:.2f} s"
        for plan in long[:3]
    )
    more = f", and {len(long) - 3} more" if len(long) > 3 else ""
    return (
        f" {len(long)} pair(s) are recordings longer than the model's window; each runs only "
        f"the one window where its clean and corrupt recordings differ ({shown}{more}), so "
        "every run above is one window's forward, whatever the recording's length, and the "
        "times reported are seconds of the recording."
    )


def _cost_line(family, spec, todo, n_runs, n_units, plans, n_skipped, layers, store) -> str:
    """What the study will cost (`n_runs` of its `todo` units), from one forward measured
    here (of one window: a long pair's plan holds its window of change)."""
    n_plans = len(plans)
    first = todo[0][0]
    view, clean = family.audio_stream(first.contrast), first.frames(family)[0]
    start = time.perf_counter()
    with torch.no_grad():
        view(clean)
    per_forward = time.perf_counter() - start
    minutes = per_forward * (n_runs + 2 * len(todo)) / 60
    done = f" {n_units - len(todo)} of {n_units} units already done." if store.done else ""
    if isinstance(family, GroundedFamily):
        runs = 3 * family.layers("text") * len(spec.directions) * n_plans
        done += (
            f" Then the grounding coefficient: {runs} patched runs of the language model "
            "(audio, text and both positions at every layer)."
        )
    what = {
        "exact": "patched runs",
        "adaptive": "patched runs at most (adaptive: fewer where windows are left whole)",
    }.get(spec.mode, f"forward-equivalents ({spec.mode})")
    return (
        f"Study: {n_plans} pairs ({n_skipped} left out) x {len(spec.directions)} "
        f"direction(s) x {len(spec.acts)} activation(s) x "
        f"{max(len(layer_list) for layer_list in layers.values())} layer(s), {len(todo)} "
        f"units: {n_runs} {what} + {2 * len(todo)} base runs, at most ~{minutes:.1f} min of "
        f"work (one forward {per_forward:.2f} s here; runs resume at the patched layer, so "
        f"less; workers share it).{done}"
    )
