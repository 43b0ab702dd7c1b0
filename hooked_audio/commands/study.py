"""`hooked-audio study`: the command line of `run_study`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hooked_audio.commands.arguments import (
    add_model_argument,
    check_workers_with_ray,
    non_negative_int,
    positive_int,
)
from hooked_audio.patching.directions import DIRECTIONS
from hooked_audio.safe_files import inside, write_text
from hooked_audio.study.spec import STUDY_ACTS, STUDY_DTYPES, STUDY_MODES, StudySpec


def add_study_parser(sub) -> None:
    parser = sub.add_parser(
        "study",
        help="patch many minimal pairs per layer and cell, both directions, into a results table",
    )
    parser.add_argument(
        "pairs",
        help="'bundled', a PairSet folder, or a CSV of "
        "sentence,word,replacement[,voice] rows to synthesise",
    )
    add_model_argument(
        parser, "Whisper and wav2vec2 / HuBERT CTC models (a HF folder with vocab.json)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (results.jsonl, spec.json, skipped.json, report.html, figures/*.png); "
        "an unfinished study there resumes",
    )
    parser.add_argument("--directions", nargs="+", choices=DIRECTIONS, default=list(DIRECTIONS))
    parser.add_argument("--acts", nargs="+", choices=STUDY_ACTS, default=["resid_pre"])
    parser.add_argument(
        "--layers",
        type=non_negative_int,
        nargs="+",
        default=None,
        help="layers to patch (default: all): encoder layers, decoder layers for cross_heads",
    )
    parser.add_argument(
        "--mode",
        choices=STUDY_MODES,
        default="exact",
        help="exact patching (default); attribution: integrated-gradients estimates of every "
        "cell at once; verified: the estimates with each unit's --verify-top-k cells patched "
        "exactly (the report hatches estimated cells); adaptive: exact patches of windows of "
        "--adaptive-window cells, split where they matter (a row may cover several cells)",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=8, help="integrated-gradients path points (8)"
    )
    parser.add_argument(
        "--verify-top-k",
        type=positive_int,
        default=10,
        help="cells per unit patched exactly in --mode verified (10)",
    )
    parser.add_argument(
        "--adaptive-window",
        type=positive_int,
        default=16,
        help="cells per starting window in --mode adaptive (16)",
    )
    parser.add_argument(
        "--adaptive-threshold",
        type=float,
        default=0.05,
        help="in --mode adaptive, split a window whose effect reaches this share of the total "
        "(0.05)",
    )
    parser.add_argument(
        "--adaptive-top-k",
        type=positive_int,
        default=None,
        help="in --mode adaptive, split only windows that can still hold one of a unit's K "
        "largest cells (exact when a cell's effect never exceeds its window's; "
        "docs/patching.md)",
    )
    parser.add_argument(
        "--granularity",
        default="words",
        help="words, frames, or windows:<seconds> (default: words)",
    )
    parser.add_argument(
        "--min-gap",
        type=float,
        default=1.0,
        help="leave out pairs whose clean-corrupt metric gap is smaller",
    )
    parser.add_argument(
        "--keep-misheard",
        action="store_true",
        help="study pairs whose clean clip the model transcribes without the changed word "
        "(left out by default: their recovery measures a word the model does not hear)",
    )
    parser.add_argument(
        "--compare-noise",
        nargs="+",
        default=[],
        metavar="KIND:SNR:SCOPE[:SEED]",
        help="also compare the pairs with noise corruptions, e.g. white:0:clip "
        "pink:10:word (peak recovery and sharpness per corruption and layer)",
    )
    parser.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write report.html into --out: figures, audio and numbers in one file that opens "
        "offline (on by default)",
    )
    parser.add_argument(
        "--figures",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write PNG figures into --out/figures: per activation the onset-aligned curves and "
        "each pair's map under its log-mel, and the noise comparison (on by default)",
    )
    parser.add_argument(
        "--layer-chunk",
        type=positive_int,
        default=None,
        help="layers per unit of work (default: all of an act's layers in one unit); smaller "
        "units resume and share out more finely",
    )
    parser.add_argument(
        "--dtype",
        choices=STUDY_DTYPES,
        default="float32",
        help="the model's precision (float32, the default; half precision is faster on a GPU "
        "and less exact: benchmarks/SCALE_RESULTS.md)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="where the units run, e.g. cuda (default: cpu); with --ray, each worker takes "
        "one GPU when this is cuda",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray (pip install -e '.[ray]'): alone, start a local cluster; with "
        "an address (auto, host:6379, ray://host:10001), join that cluster",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="with --ray: how many workers (default: one per CPU of the cluster)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def parse_noise(text: str):
    """`kind:snr_db:scope[:seed]`, e.g. `white:0:clip` or `pink:10:word:1`."""
    from hooked_audio.study.corruption_comparison import NoiseCorruption

    parts = text.split(":")
    try:
        if len(parts) not in (3, 4):
            raise ValueError("expected 3 or 4 fields")
        seed = int(parts[3]) if len(parts) == 4 else 0
        return NoiseCorruption(parts[0], float(parts[1]), parts[2], seed)
    except ValueError as error:
        raise ValueError(
            f"--compare-noise {text!r}: {error}. Write KIND:SNR:SCOPE[:SEED], "
            "e.g. white:0:clip or pink:10:word:1 (kind white|pink, scope "
            "clip|word)."
        ) from None


def run_study_command(args: argparse.Namespace) -> int:
    # Everything that can be checked without the model is checked before it loads.
    spec = StudySpec(
        directions=tuple(args.directions),
        acts=tuple(args.acts),
        layers=None if args.layers is None else tuple(args.layers),
        granularity=args.granularity,
        min_gap=args.min_gap,
        require_heard=not args.keep_misheard,
        mode=args.mode,
        steps=args.steps,
        verify_top_k=args.verify_top_k,
        adaptive_window=args.adaptive_window,
        adaptive_threshold=args.adaptive_threshold,
        adaptive_top_k=args.adaptive_top_k,
        layer_chunk=args.layer_chunk,
        dtype=args.dtype,
    )
    check_workers_with_ray(args)
    noises = [parse_noise(text) for text in args.compare_noise]
    from hooked_audio.models.loading import load_model, model_family
    from hooked_audio.study.pair_source import load_pairs
    from hooked_audio.study.run import run_study

    executor = None
    if args.ray is not None:
        from hooked_audio.study.ray_executor import RayExecutor

        gpus = 1 if args.device is not None and args.device.startswith("cuda") else 0
        executor = RayExecutor(args.ray, workers=args.workers, num_gpus=gpus)
    elif args.device is not None:
        from hooked_audio.study.local_executor import LocalExecutor

        executor = LocalExecutor(args.device)
    pairs = load_pairs(args.pairs)
    try:  # a model studies do not serve is refused as any bad argument is (exit status 2)
        family = model_family(load_model(args.model))
    except TypeError as error:
        raise ValueError(str(error)) from None
    result = run_study(
        family,
        pairs,
        spec,
        out_dir=args.out,
        model_name=args.model,
        out=(lambda line: None) if args.json else print,
        executor=executor,
    )
    summary = result.word_summary()
    table = None
    if noises:
        from hooked_audio.study.corruption_comparison import compare_corruptions, corruption_table

        comparison = compare_corruptions(
            family, pairs, noises, layers=spec.layers, min_gap=spec.min_gap, progress=not args.json
        )
        write_text(args.out, "corruptions.jsonl", comparison.to_json(orient="records", lines=True))
        table = corruption_table(comparison)
    else:  # a rerun without the comparison: the folder must not keep an earlier one's files
        for stale in ("corruptions.jsonl", "figures/corruptions.png"):
            inside(args.out, stale).unlink(missing_ok=True)
    report = None
    if args.report:
        from hooked_audio.study.report import write_report

        report = write_report(
            result, pairs, args.out, model=family, model_name=args.model, comparison=table
        )
    figures = []
    if args.figures and len(result.rows):
        from hooked_audio.study.figure_files import write_figures

        figures = write_figures(result, pairs, args.out, table)
    if args.json:
        corruptions = None if table is None else table.to_dict(orient="records")
        print(
            json.dumps(
                {
                    "out": str(args.out),
                    "pairs": result.pairs,
                    "skipped": result.skipped,
                    "corruptions": corruptions,
                    "summary": summary.to_dict(orient="records"),
                    "report": None if report is None else str(report),
                    "figures": [str(path) for path in figures],
                }
            )
        )
        return 0
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print("\nRecovery (0 = corrupt run, 1 = clean run), mean over pairs [95% interval]:")
        print(summary.round(3).to_string(index=False))
    if table is not None:
        print(
            "\nMinimal pair vs noise (denoising; sharpness = share of positive recovery in "
            "the changed word +-0.1 s):"
        )
        print(table.round(3).to_string(index=False))
    for skip in result.skipped:
        print(f"left out {skip['pair']}: {skip['reason']}")
    print(f"\nResults: {args.out / 'results.jsonl'} ({len(result.rows)} rows)")
    if figures:
        print(f"Figures: {len(figures)} PNG files in {figures[0].parent}")
    if report is not None:
        print(f"Report: {report}")
    return 0
