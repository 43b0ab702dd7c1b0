"""`write_report`: a study as one self-contained `report.html` (plotly.js, the audio and the
numbers inline, so it opens offline and can be mailed as one file).

The page holds a header (model, pairs studied and left out with why, the design, the date),
per activation the onset-aligned recovery curves and the changed-word bars over all pairs
(denoise and noise side by side: sufficiency and necessity), one section per pair (its
texts, its two clips to play, a layers x time map per direction and activation with every
cell at its true time and the changed word outlined), and a link that downloads the rows and
summaries as `study.json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd

from hooked_audio.models.family import ModelFamily
from hooked_audio.models.loading import model_family
from hooked_audio.pairs import MinimalPair
from hooked_audio.safe_files import write_text
from hooked_audio.study import report_figures as figures
from hooked_audio.study.grounding_figure import grounding_figure
from hooked_audio.study.report_embed import audio_data_uri, json_data_uri, records, study_json
from hooked_audio.study.report_html import Clip, page, pair_section
from hooked_audio.study.result import StudyResult

REPORT_FILE = "report.html"
#: width of the time bins of the onset-aligned curves
ONSET_BIN_S = 0.1


def heard(family: ModelFamily, pair: MinimalPair) -> tuple[str, str]:
    """What the model transcribes from the pair's clean and corrupt clips (`family.decoding`
    says how; Whisper decodes the two in one batch)."""
    clean, corrupt = family.transcribe([pair.clean_audio, pair.corrupt_audio])
    return clean, corrupt


def _model_name(model_name: str | None, out_dir: Path, model) -> str:
    if model_name:
        return model_name
    spec_file = out_dir / "spec.json"
    if spec_file.exists():
        saved = json.loads(spec_file.read_text()).get("model")
        if saved:
            return str(saved)
    return type(model).__name__ if model is not None else "not recorded"


def _present(wanted: Iterable[str], column: pd.Series) -> list[str]:
    have = set(column.unique())
    return [value for value in wanted if value in have]


#: what each study activation patches, in the report's header
ACT_DESCRIPTIONS = {
    "resid_pre": "the encoder's residual stream before each layer (resid_pre)",
    "attn_out": "each encoder layer's attention output (attn_out)",
    "mlp_out": "each encoder layer's MLP output (mlp_out)",
    "encoder_heads": "each encoder head's output (attn.hook_z)",
    "cross_heads": "each decoder cross-attention head's keys and values (cross_attn.hook_k, "
    "hook_v) at the cell's frames",
}


GROUNDING_FACT = (
    "the language model's residual stream patched at the audio positions, the text positions "
    "and both, at every layer (grounding.json; 1 = the audio carries the answer, 0 = the text)"
)


def _facts(result: StudyResult, model_name: str, layers: list[int]) -> dict[str, str]:
    spec = result.spec
    skipped = f", {len(result.skipped)} left out" if result.skipped else ", none left out"
    return {
        "model": model_name,
        "pairs": f"{len(result.pairs)} studied{skipped}",
        "directions": ", ".join(spec.directions),
        "activations": "; ".join(ACT_DESCRIPTIONS.get(act, act) for act in spec.acts),
        "layers": ("all: " if spec.layers is None else "")
        + (", ".join(str(layer) for layer in layers) or "none"),
        "cells": spec.granularity,
        **({"grounding": GROUNDING_FACT} if result.grounding else {}),
        "min_gap": f"{spec.min_gap:g}",
        "date": datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def _map_name(rows: pd.DataFrame) -> str:
    return "layers and heads x time" if rows["head"].notna().any() else "layers x time"


def _clips(pair: MinimalPair, family: ModelFamily | None) -> list[Clip]:
    """The pair's two recordings to play, each with what the model hears in the part it read
    (a long recording's window of change)."""
    said = heard(family, family.pair_window(pair).pair) if family is not None else (None, None)
    decoding = family.decoding if family is not None else None
    clips = []
    for name, text, audio, heard_text in (
        ("clean", pair.clean_text, pair.clean_audio, said[0]),
        ("corrupt", pair.corrupt_text, pair.corrupt_audio, said[1]),
    ):
        rate = audio.sample_rate
        clips.append(
            Clip(name, text, heard_text, audio_data_uri(audio, rate), len(audio) / rate, decoding)
        )
    return clips


def _subtitle(pair: MinimalPair, rows: pd.DataFrame, time_axis: list[dict]) -> str:
    first = rows.iloc[0]
    return (
        f"{pair.kind} pair: {first['changed_word']!r} -> {first['replacement']!r} at "
        f"{first['onset_s']:.2f}-{first['offset_s']:.2f} s (outlined); metric "
        f"{first['clean_value']:.2f} on the clean clip, {first['corrupt_value']:.2f} on the "
        "corrupt one. Colour: recovery (0 = corrupt run, 1 = clean run)."
        + _window_note(pair, rows)
        + _times_note(pair, [row for row in time_axis if row["pair"] == pair.id])
    )


def time_span(pair: MinimalPair, rows: pd.DataFrame) -> tuple[float, float]:
    """The part of the recording the study patched, in its seconds: the pair's window (a long
    recording's window of change), or the whole clip (rows of a study without the columns)."""
    duration = len(pair.clean_audio) / pair.clean_audio.sample_rate
    if "window_start_s" not in rows:
        return 0.0, duration
    known = rows.dropna(subset=["window_start_s", "window_end_s"])
    if not len(known):
        return 0.0, duration
    return float(known["window_start_s"].iloc[0]), float(known["window_end_s"].iloc[0])


def _window_note(pair: MinimalPair, rows: pd.DataFrame) -> str:
    """For a recording longer than the model's window, which window was patched."""
    duration = len(pair.clean_audio) / pair.clean_audio.sample_rate
    start, end = time_span(pair, rows)
    if start == 0.0 and end >= duration:
        return ""
    return (
        f" A {duration:.2f} s recording: only {start:g}-{end:.2f} s, the window where the clean "
        "and corrupt recordings differ, was patched (and is what the model's transcripts "
        "below heard); times are seconds of the recording."
    )


def _times_note(pair: MinimalPair, checks: list[dict]) -> str:
    """Where the word times come from and, when they are the model's estimate, what the
    time-axis check found."""
    origin = pair.meta.get("word_times")
    if not checks:
        return f" Word times: {origin}." if origin else ""
    found = " ".join(row["sentence"] for row in checks)
    verdict = (
        "The word cells may misplace the effect: read the time axis, not the cells."
        if any(row["suspect"] for row in checks)
        else "The word cells hold the effect."
    )
    return (
        f" Word times: {origin}, the model's estimate (50-100 ms off on recordings). Time-axis "
        f"check (0.06 s windows): {found} {verdict}"
    )


def write_report(
    result: StudyResult,
    pairs: Iterable[MinimalPair],
    out_dir: str | Path,
    model=None,
    model_name: str | None = None,
    comparison: pd.DataFrame | None = None,
) -> Path:
    """Write `out_dir/report.html` for `result` and return its path.

    `pairs`: the study's pairs (those left out may be among them; every studied pair must
    be, for its audio and texts). `model`: the study's model (any family, see `run_study`) to
    show what it transcribes from each clip, or None to skip that. `model_name`: for the
    header (default: the one recorded in `out_dir/spec.json` by `run_study`). `comparison`:
    a `corruption_table` of minimal pairs against noise, drawn with the aggregate figures and
    added to the numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {pair.id: pair for pair in pairs}
    missing = [pid for pid in result.pairs if pid not in by_id]
    if missing:
        raise ValueError(
            f"The report needs the audio of every studied pair; {missing} are not among "
            f"`pairs` (given: {sorted(by_id)}). Pass the pairs the study ran on."
        )
    rows = result.rows
    family = model_family(model) if model is not None else None
    name = _model_name(model_name, out_dir, model)
    aggregate, sections = [], []
    summary = curves = pd.DataFrame()
    layers: list[int] = []
    if len(rows):
        layers = sorted(int(layer) for layer in rows["layer"].unique())
        directions = _present(result.spec.directions, rows["direction"])
        acts = _present(result.spec.acts, rows["act"])
        summary, curves = result.word_summary(), result.onset_curves(ONSET_BIN_S)
        for act in acts:
            aggregate.append(figures.onset_figure(curves, act, directions, ONSET_BIN_S))
            aggregate.append(figures.word_bar_figure(summary, act, directions))
        if result.grounding:
            grounding = pd.DataFrame(result.grounding)
            aggregate.append(
                grounding_figure(
                    grounding,
                    result.grounding_summary(),
                    _present(result.spec.directions, grounding["direction"]),
                )
            )
        for pid in result.pairs:
            pair, pair_rows = by_id[pid], rows[rows["pair"] == pid]
            start, end = time_span(pair, pair_rows)
            fig = figures.pair_figure(
                pair_rows, directions, acts, f"{pid}: {_map_name(pair_rows)}", end, start
            )
            subtitle = _subtitle(pair, pair_rows, result.time_axis)
            section = pair_section(pid, subtitle, _clips(pair, family), fig)
            sections.append((pid, section))
    data = study_json(result, summary, curves, name)
    if comparison is not None and len(comparison):
        aggregate.append(figures.corruption_bar_figure(comparison))
        data["corruptions"] = records(comparison)
    numbers = json_data_uri(data)
    html = page(
        f"Study report: {name}",
        _facts(result, name, layers),
        result.skipped,
        numbers,
        aggregate,
        sections,
    )
    # inside the folder, replacing (never following) a symlink planted at report.html
    return write_text(out_dir, REPORT_FILE, html)
