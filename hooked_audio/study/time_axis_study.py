"""The study's time-axis check of pairs whose word times are the model's estimate.

Word cells cut by estimated times (50-100 ms off on recordings, docs/word_times.md) can put the
changed word's onset in its neighbour's cell, and a word-cell map then shows the effect under
the wrong word. For each such pair the study also sweeps short windows over the changed word
and the word before it (`time_axis_check`) and says, per direction, how much of the effect lies
inside the changed word's cell and where it peaks; a pair whose effect falls outside its cell
is flagged as suspect in the summary, the report and `time_axis.json`. Pairs with reference or
synthesis times (exact) are not checked.
"""

from __future__ import annotations

from hooked_audio.models.family import ModelFamily
from hooked_audio.models.whisper.word_timing import ESTIMATED_ORIGIN
from hooked_audio.study.pair_plan import PairPlan
from hooked_audio.study.spec import StudySpec, parse_granularity


def times_are_estimated(pair) -> bool:
    """Whether the pair's word times are the model's estimate (not a reference or synthesis)."""
    return str(pair.meta.get("word_times", "")).startswith(ESTIMATED_ORIGIN)


def time_axis_rows(family: ModelFamily, plan: PairPlan, spec: StudySpec) -> list[dict]:
    """One row per direction of the time-axis check of `plan`'s pair at the study's layers, or
    none when its cells are not words or its times are not estimated. Times are seconds of the
    recording (a long recording's check runs in its window of change)."""
    from hooked_audio.patching import resid_pre_sweep
    from hooked_audio.study.time_axis_check import cell_check, time_axis_cells
    from hooked_audio.word_times.matching import split_words

    pair = plan.pair
    kind, _ = parse_granularity(spec.granularity)
    if kind != "words" or not times_are_estimated(pair) or "changed_index" not in pair.meta:
        return []
    words = pair.meta["clean_words"]
    entry = split_words([word for word, _, _ in words])[1][pair.meta["changed_index"]]
    clean, corrupt = plan.frames(family)
    axis = time_axis_cells(words, entry, clean.shape[-1], family.seconds_per_position)
    view = family.audio_stream(plan.contrast)
    rows = []
    for direction in spec.directions:
        result = resid_pre_sweep(
            view,
            clean,
            corrupt,
            plan.contrast.metric(),
            direction=direction,
            layers=spec.layers,
            cells=axis.cells,
            labels=axis.labels,
            progress=False,
        )
        check = cell_check(result, tuple(plan.cells.seconds[entry])).shifted(plan.start_s)
        rows.append(
            {
                "pair": pair.id,
                "direction": direction,
                "layer": check.layer,
                "inside_share": check.inside_share,
                "peak_s": check.peak_s,
                "cell_s": list(check.cell_s),
                "suspect": check.suspect,
                "word_times": pair.meta["word_times"],
                "sentence": check.sentence(plan.contrast.clean_word),
            }
        )
    return rows
