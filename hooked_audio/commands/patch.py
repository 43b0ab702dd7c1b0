"""`hooked-audio patch CLEAN CORRUPT`: activation patching on the user's own minimal pair.

The pair is labelled by the model (`hooked_audio.models.whisper.transcribed_pair`: the two
transcripts must differ in one word) and measured as a study measures a bundled pair: the
logit difference between the clean word and its replacement where the decoder predicts it
(`hooked_audio.models.whisper.word_contrast`), the encoder's `resid_pre` patched one cell
(word, window or frame: `hooked_audio.study.pair_cells`) and layer at a time
(`resid_pre_sweep`), denoising (clean frames into the corrupt run: do they bring the clean word
back?) and noising (corrupt frames into the clean run: do they take it away?).

Patching swaps frames at equal times, so the clips must have the same length: two separate
recordings are time-warped onto the clean one with `--align` (`align_pair`, DTW on log-mel).

Recordings longer than Whisper's 30 s window go through the long-form path
(`hooked_audio.models.whisper.long_form`): Whisper encodes each window on its own, so a change
can only move the metric of the window it is in; the command finds the one window where the
two recordings differ, patches that window, and reports every time in seconds of the
recording.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hooked_audio.audio import load_audio
from hooked_audio.checks import check_layers
from hooked_audio.commands.arguments import add_model_argument, load_whisper_for, non_negative_int
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.whisper.front_end import WINDOW_SECONDS
from hooked_audio.models.whisper.inference import TRANSCRIBE_DECODING
from hooked_audio.pairs.pair_set_words import pair_set_words
from hooked_audio.patching.directions import DIRECTIONS
from hooked_audio.safe_files import (
    check_output_folder,
    claim_output_folder,
    write_bytes_via,
    write_text,
)
from hooked_audio.study.spec import parse_granularity
from hooked_audio.word_times import WordTimes, read_word_times
from hooked_audio.word_times.timed_clip import TimedClip

RESULTS = "results.jsonl"


def add_patch_parser(sub) -> None:
    parser = sub.add_parser(
        "patch",
        help="patch your own minimal pair (two clips whose transcripts differ in one word) "
        "per encoder layer and word",
    )
    parser.add_argument("clean", type=Path, help="the clean clip")
    parser.add_argument("corrupt", type=Path, help="the same sentence with one word changed")
    add_model_argument(parser)
    parser.add_argument(
        "--layers",
        type=non_negative_int,
        nargs="+",
        default=None,
        help="encoder layers (default: all)",
    )
    parser.add_argument(
        "--direction",
        choices=[*DIRECTIONS, "both"],
        default="both",
        help="denoise (clean frames into the corrupt run), noise (the reverse) or both (default)",
    )
    parser.add_argument(
        "--granularity",
        default="words",
        help="cells: words (of the clean transcript), windows:<seconds> or frames (default: words)",
    )
    parser.add_argument(
        "--words",
        type=Path,
        default=None,
        metavar="FILE",
        help="the clean clip's word times for the word cells: a TextGrid (its 'words' tier), "
        "a CTM, or a CSV of word,start,end in seconds (default: the pair set's manifest when "
        "CLEAN is a pair-set clip, else openai-whisper's word timestamps)",
    )
    parser.add_argument(
        "--change",
        nargs=2,
        default=None,
        metavar=("WORD", "REPLACEMENT"),
        help="the changed word and what CORRUPT says instead, when the model mishears CORRUPT "
        "(default: read off the two transcripts)",
    )
    parser.add_argument(
        "--align",
        action="store_true",
        help="time-warp CORRUPT onto CLEAN (DTW) first; needed when their lengths differ",
    )
    parser.add_argument(
        "--min-gap",
        type=float,
        default=1.0,
        help="refuse a pair whose clean and corrupt logit differences differ by less "
        "(default: 1.0)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder for {RESULTS} and one recovery_<direction>.png map per direction "
        "(a non-empty folder another command wrote is refused; see --overwrite)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into --out even when it holds files another command wrote",
    )
    parser.add_argument(
        "--no-time-axis",
        action="store_true",
        help="with word cells, skip the time-axis check (0.06 s windows over the changed word "
        "and the word before it, which shows whether the word cells hold the effect)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _word_times(
    args: argparse.Namespace, clean, window: int | None = None
) -> tuple[WordTimes | None, str]:
    """The clean clip's reference word times, checked against it, and where they come from;
    for window `window` of a long recording, the words inside it, in seconds of the window."""
    if args.words is not None:
        words, origin = read_word_times(args.words), str(args.words)
    else:
        words, origin = pair_set_words(args.clean), f"the manifest beside {args.clean}"
    if words is None:
        return None, "openai-whisper's word timestamps"  # the model's pair says more
    if window is not None:
        start_s = _window_start_s(window)
        end_s = start_s + len(clean) / SAMPLE_RATE
        words = [(w, a - start_s, b - start_s) for w, a, b in words if start_s <= a < b <= end_s]
    return TimedClip(str(args.clean), clean, words).words, origin


def _window_of_change(args: argparse.Namespace, clean, corrupt):
    """Two recordings longer than one window: the one 30 s window in which they differ, cut
    out of both, and its number."""
    if args.align:
        raise ValueError(
            f"{args.clean} is longer than Whisper's {WINDOW_SECONDS} s window; --align warps "
            "clips of one window. Cut both recordings to the window of the change, or record "
            "takes of the same length."
        )
    if len(clean) != len(corrupt):
        raise ValueError(
            f"{args.clean} is {len(clean) / SAMPLE_RATE:.3f} s and {args.corrupt} "
            f"{len(corrupt) / SAMPLE_RATE:.3f} s long: a long recording is patched window by "
            "window at equal times, so the two must have the same length."
        )
    from hooked_audio.models.whisper.long_form import LongClip, differing_windows

    clips = [LongClip(audio, WINDOW_SECONDS * SAMPLE_RATE) for audio in (clean, corrupt)]
    changed = differing_windows(*clips)
    if not changed:
        raise ValueError(
            f"{args.clean} and {args.corrupt} are the same samples: there is no change to patch."
        )
    if len(changed) > 1:
        starts = ", ".join(f"{clips[0].window_start(w):g} s" for w in changed)
        raise ValueError(
            f"The recordings differ in {len(changed)} of their {WINDOW_SECONDS} s windows "
            f"(from {starts}); a patch reads one window's transcript. Change one word, or cut "
            "the recordings so that they differ in one window."
        )
    window = changed[0]
    return clips[0].window_audio(window), clips[1].window_audio(window), window


def _check_inputs(args: argparse.Namespace):
    """Everything that needs no model: the clips, their lengths, the options, the word times;
    the corrupt clip aligned when asked; of long recordings, the window of the change. Returns
    `(clean, corrupt, alignment score or None, word times or None, where the word times come
    from, the window or None)`."""
    parse_granularity(args.granularity)
    if not args.min_gap >= 0:
        raise ValueError(f"--min-gap must be a number >= 0, got {args.min_gap}.")
    if args.out is not None:
        check_output_folder(args.out, "patch", args.overwrite)
    clean, corrupt = load_audio(args.clean), load_audio(args.corrupt)
    window = None
    if max(len(clean), len(corrupt)) > WINDOW_SECONDS * SAMPLE_RATE:
        clean, corrupt, window = _window_of_change(args, clean, corrupt)
    if not args.align and len(clean) != len(corrupt):
        raise ValueError(
            f"{args.clean} is {len(clean) / SAMPLE_RATE:.3f} s and {args.corrupt} "
            f"{len(corrupt) / SAMPLE_RATE:.3f} s long: patching swaps frames at equal "
            "times, so the clips must have the same length. Pass --align to time-warp "
            "CORRUPT onto CLEAN, or trim them."
        )
    words, origin = _word_times(args, clean, window)
    if not args.align:
        return clean, corrupt, None, words, origin, window
    from hooked_audio.corruptions import align_pair

    aligned = align_pair(clean, corrupt)
    return clean, aligned.warped, aligned.score, words, origin, None


def _in_changed_word(seconds: list[tuple[float, float]], span: tuple[float, float]) -> list[bool]:
    """Whether each cell's centre lies in the changed word's span."""
    return [span[0] <= (start + end) / 2 <= span[1] for start, end in seconds]


def _table(result, changed: list[bool]) -> pd.DataFrame:
    labels = [f"*{label}*" if hit else label for label, hit in zip(result.cell_labels, changed)]
    return pd.DataFrame(
        result.normalised().numpy(),
        index=pd.Index(result.layers, name="layer"),
        columns=labels,
    )


def _rows(result, changed: list[bool], pair, args: argparse.Namespace) -> pd.DataFrame:
    rows = result.to_dataframe()
    rows.insert(0, "direction", result.direction)
    rows["normalised"] = result.normalised().numpy().ravel()
    rows["in_changed_word"] = changed * len(result.layers)
    rows["changed_word"], rows["replacement"] = pair.differing_words
    rows["clean_value"], rows["corrupt_value"] = result.clean_value, result.corrupt_value
    rows["clean"], rows["corrupt"] = str(args.clean), str(args.corrupt)
    return rows


def _write(
    out: Path, results: dict, rows: pd.DataFrame, clean_frames, metric: str, start_s: float
) -> list[str]:
    """`results.jsonl` (the rows of every direction) and one map per direction, the clean
    clip's log-mel above the layer x cell recovery."""
    claim_output_folder(out, "patch")
    path = write_text(out, RESULTS, rows.to_json(orient="records", lines=True))
    return [str(path), *_save_maps(out, "recovery", results, clean_frames, metric, start_s)]


def _save_maps(
    out: Path, prefix: str, results: dict, clean_frames, metric: str, start_s: float
) -> list[str]:
    """One `<prefix>_<direction>.png` per direction: the sweep under the clean clip's log-mel
    (which starts at `start_s` of the recording)."""
    import matplotlib.pyplot as plt

    files = []
    for direction, result in results.items():
        axes = result.plot(
            spectrogram=clean_frames, metric_name=metric, spectrogram_start_s=start_s
        )
        figure = axes[0].figure
        path = write_bytes_via(
            out, f"{prefix}_{direction}.png", lambda tmp: figure.savefig(tmp, dpi=120, format="png")
        )
        plt.close(figure)
        files.append(str(path))
    return files


def _print_time_axis(results: dict, checks: dict, word: str) -> None:
    """The time-axis tables and what they say of the word cells."""
    for direction, result in results.items():
        print(
            f"\n{direction} on a time axis (0.06 s windows, columns: window start in s; "
            "normalised recovery):"
        )
        table = pd.DataFrame(
            result.normalised().numpy(),
            index=pd.Index(result.layers, name="layer"),
            columns=[f"{start:.2f}" for start, _ in result.cell_seconds],
        )
        with pd.option_context("display.width", 250, "display.max_columns", 100):
            print(table.round(2).to_string())
        print(checks[direction].sentence(word))
    if any(check.suspect for check in checks.values()):
        print(
            f"Warning: the word cells may be wrong: the effect is not concentrated in {word!r}'s "
            "cell. The word times come from the model and can be off by 100 ms on recordings; "
            "read the time axis, or pass reference times with --words (a TextGrid, CTM or CSV)."
        )


def _contrast(model, pair, clean_frames, corrupt_frames, min_gap: float):
    """The pair's `WordContrast` and its value on the clean and the corrupt clip, refused
    when it cannot be read at the changed word or barely moves."""
    import torch

    from hooked_audio.models.whisper.word_contrast import word_contrast

    contrast = word_contrast(model, pair)
    if contrast.word_index != pair.meta["changed_index"]:
        raise ValueError(
            f"The changed word {contrast.clean_word!r} also occurs earlier in "
            f"{pair.clean_text!r}; the contrast is read at its first occurrence, so use a "
            "sentence where the changed word occurs once."
        )
    metric = contrast.metric()
    with torch.no_grad():
        clean_value = float(metric(model(clean_frames, contrast.tokens)))
        corrupt_value = float(metric(model(corrupt_frames, contrast.tokens)))
    if not abs(clean_value - corrupt_value) >= min_gap:
        raise ValueError(
            f"The logit difference {contrast.clean_word!r} - {contrast.replacement!r} is "
            f"{clean_value:.2f} on the clean clip and {corrupt_value:.2f} on the corrupt one: a "
            f"gap under --min-gap {min_gap:g}, so recovery would be noise. Pass --min-gap 0 to "
            "patch anyway."
        )
    return contrast, clean_value, corrupt_value


def _print_results(report: dict, results: dict, changed: list[bool]) -> None:
    if report["alignment_score"] is not None:
        print(
            f"Aligned {report['corrupt']} onto {report['clean']} (DTW score "
            f"{report['alignment_score']:.3f}; 0 = identical)."
        )
    named = " (the change named with --change, not transcribed)" if report["named_change"] else ""
    if report["window"] is not None:
        print(
            f"The recordings differ in window {report['window']} only (from "
            f"{report['window_start_s']:g} s); it is patched, with times in seconds of the "
            "recording."
        )
    print(f"Clean:   {report['clean_text']}\nCorrupt: {report['corrupt_text']}{named}")
    print(f"Transcripts: {report['decoding']}")
    print(f"Word times: {report['word_times']}")
    print(
        f"Metric: logit[{report['changed_word']!r}] - logit[{report['replacement']!r}] where "
        f"the decoder predicts the changed word: {report['clean_value']:.2f} clean, "
        f"{report['corrupt_value']:.2f} corrupt."
    )
    explain = {
        "denoise": "clean frames patched into the corrupt run",
        "noise": "corrupt frames patched into the clean run",
    }
    for direction, result in results.items():
        print(
            f"\n{direction} ({explain[direction]}) at encoder resid_pre; normalised recovery, "
            "0 = corrupt run, 1 = clean run; *changed word*:"
        )
        with pd.option_context("display.width", 200, "display.max_columns", 100):
            print(_table(result, changed).round(2).to_string())
    for path in report["files"]:
        print(f"Wrote {path}")


def _window_start_s(window: int | None) -> float:
    """Where the patched window starts in the recording (0 for a clip of one window)."""
    return float((window or 0) * WINDOW_SECONDS)


def _sweeps(view, clean_frames, corrupt_frames, metric, cells, args, window) -> dict:
    """One `resid_pre_sweep` per direction asked for, over `cells` (`TimeCells`); for window
    `window` of a long recording, with times in seconds of the recording."""
    from hooked_audio.models.whisper.long_form import to_recording_time
    from hooked_audio.patching import resid_pre_sweep

    results = {
        direction: resid_pre_sweep(
            view,
            clean_frames,
            corrupt_frames,
            metric,
            direction=direction,
            layers=args.layers,
            cells=cells.cells,
            labels=cells.labels,
            progress=not args.json,
        )
        for direction in (DIRECTIONS if args.direction == "both" else (args.direction,))
    }
    if window is None:
        return results
    start_s = _window_start_s(window)
    return {d: to_recording_time(r, start_s, window) for d, r in results.items()}


def _time_axis(model, pair, cells, step, view, clean_frames, corrupt_frames, metric, args, window):
    """The time-axis sweeps around the changed word and their `CellCheck`s (see
    `hooked_audio.study.time_axis_check`), or `({}, {})` when not asked for; for a window of
    a long recording, in seconds of the recording."""
    from hooked_audio.study.time_axis_check import cell_check, time_axis_cells
    from hooked_audio.word_times.matching import split_words

    kind, _ = parse_granularity(args.granularity)
    if kind != "words" or args.no_time_axis:
        return {}, {}
    words = pair.meta["clean_words"]
    entry = split_words([word for word, _, _ in words])[1][pair.meta["changed_index"]]
    axis = time_axis_cells(words, entry, model.dims.n_audio_ctx, step)
    results = _sweeps(view, clean_frames, corrupt_frames, metric, axis, args, window)
    span = tuple(t + _window_start_s(window) for t in cells.seconds[entry])
    checks = {d: cell_check(r, span) for d, r in results.items()}
    return results, checks


def run_patch_command(args: argparse.Namespace) -> int:
    clean, corrupt, score, words, origin, window = _check_inputs(args)
    from hooked_audio.models.whisper.transcribed_pair import transcribed_pair, warp_refusal
    from hooked_audio.study.pair_cells import pair_cells

    model = load_whisper_for("patch", args.model)
    check_layers(args.layers, model.dims.n_audio_layer)  # before any transcription or sweep
    change = None if args.change is None else tuple(args.change)
    try:
        pair = transcribed_pair(model, clean, corrupt, clean_words=words, change=change)
    except ValueError as error:
        if not args.align or change is not None:
            raise
        message, suggestion = warp_refusal(model, args.clean, args.corrupt, error)
        hint = f" To patch the pair anyway, name the change: --change {suggestion}" * bool(
            suggestion
        )
        raise ValueError(f"{message}{hint}") from None
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    contrast, clean_value, corrupt_value = _contrast(
        model, pair, clean_frames, corrupt_frames, args.min_gap
    )
    step = model.window_seconds / model.dims.n_audio_ctx
    cells = pair_cells(pair, args.granularity, model.dims.n_audio_ctx, step)
    view = model.encoder_stream(contrast.tokens)
    results = _sweeps(view, clean_frames, corrupt_frames, contrast.metric(), cells, args, window)
    axis_results, checks = _time_axis(
        model,
        pair,
        cells,
        step,
        view,
        clean_frames,
        corrupt_frames,
        contrast.metric(),
        args,
        window,
    )
    changed = _in_changed_word(cells.seconds, pair.spans_s[0])
    start_s = _window_start_s(window)
    files = []
    if args.out is not None:
        rows = pd.concat([_rows(result, changed, pair, args) for result in results.values()])
        metric = f"logit diff {contrast.clean_word!r} - {contrast.replacement!r}"
        files = _write(args.out, results, rows, clean_frames, metric, start_s)
        files += _save_maps(args.out, "time_axis", axis_results, clean_frames, metric, start_s)
    report = {
        "clean": str(args.clean),
        "corrupt": str(args.corrupt),
        "alignment_score": score,
        "word_times": origin if words is not None else pair.meta["word_times"],
        "clean_text": pair.clean_text,
        "corrupt_text": pair.corrupt_text,
        "decoding": TRANSCRIBE_DECODING,
        "named_change": change is not None,
        "changed_word": contrast.clean_word,
        "replacement": contrast.replacement,
        "clean_value": clean_value,
        "corrupt_value": corrupt_value,
        "window": window,
        "window_start_s": start_s,
        "cells": next(iter(results.values())).cell_labels,
        "cell_seconds": [(a + start_s, b + start_s) for a, b in cells.seconds],
        "in_changed_word": changed,
        "directions": {
            direction: {"layers": result.layers, "normalised": result.normalised().tolist()}
            for direction, result in results.items()
        },
        "time_axis": {
            direction: {
                "layers": result.layers,
                "cell_seconds": result.cell_seconds,
                "normalised": result.normalised().tolist(),
                "inside_share": checks[direction].inside_share,
                "peak_s": checks[direction].peak_s,
                "layer": checks[direction].layer,
                "suspect": checks[direction].suspect,
            }
            for direction, result in axis_results.items()
        },
        "files": files,
    }
    if args.json:
        print(json.dumps(report))
    else:
        _print_results(report, results, changed)
        _print_time_axis(axis_results, checks, contrast.clean_word)
    return 0
