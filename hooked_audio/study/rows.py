"""A finished unit's results as the study's tidy rows: one per layer and cell (and head), or
one per window an adaptive map left whole."""

from __future__ import annotations

import torch

from hooked_audio.study.pair_plan import PairPlan


def _row(plan: PairPlan, unit: str, act: str, result, **cell) -> dict:
    """One row: the pair, the unit, the patched site and cell (`cell`: layer, head, cell,
    label, start_s, end_s, value, exact, normalised, n_cells), the metric's name and the
    unpatched values. Times are seconds of the recording: a pair longer than the model's window
    was patched in one window (`window_start_s`-`window_end_s`), and its cells and the changed
    word's span (`onset_s`-`offset_s`) are placed there."""
    pair, span = plan.pair, plan.span_s
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
        "window_start_s": plan.start_s,
        "window_end_s": plan.end_s,
        "changed_word": plan.contrast.clean_word,
        "replacement": plan.contrast.replacement,
        "metric": plan.contrast.metric_name,
        "clean_value": result.clean_value,
        "corrupt_value": result.corrupt_value,
    }


def sweep_rows(
    plan: PairPlan,
    unit: str,
    act: str,
    result,
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
            start, end = plan.cell_seconds[cell]
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


def adaptive_rows(plan: PairPlan, unit: str, act: str, results) -> list[dict]:
    """One row per window an adaptive map reports: a single cell as in `sweep_rows`, or the
    cells it left unsplit together (`n_cells` of them, from its first cell's start to its
    last's end, labelled `first…last`), with the exact value of patching them together."""
    labels, seconds, rows = plan.cells.labels, plan.cell_seconds, []
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
