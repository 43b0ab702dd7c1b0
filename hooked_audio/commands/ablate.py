"""`hooked-audio ablate`: the command line of `run_ablation_study`."""

from __future__ import annotations

import argparse
from pathlib import Path

from hooked_audio.commands.arguments import (
    add_model_argument,
    check_workers_with_ray,
    non_negative_int,
    positive_int,
)
from hooked_audio.interventions import ABLATIONS
from hooked_audio.metrics.transcripts import NORMALISERS, REFERENCE_METRICS, TRANSCRIPT_METRICS

#: Whisper's components (the command runs on Whisper; `--component` is checked against the
#: loaded model's family too)
COMPONENTS = (
    "encoder.heads",
    "decoder.self_heads",
    "decoder.cross_heads",
    "encoder.mlps",
    "decoder.mlps",
)


def add_ablate_parser(sub) -> None:
    parser = sub.add_parser(
        "ablate",
        help="transcribe clips with each head (or MLP) ablated in turn; WER, hallucination, "
        "repetition per site",
    )
    parser.add_argument(
        "clips",
        help="'non-speech' (synthesised noises, tones, silence), 'recorded' (the shipped "
        "recordings, with their texts), or a folder of audio files with optional <name>.txt "
        "references",
    )
    add_model_argument(parser)
    parser.add_argument(
        "--component", nargs="+", choices=COMPONENTS, default=["decoder.self_heads"]
    )
    parser.add_argument(
        "--metric",
        choices=TRANSCRIPT_METRICS,
        default="hallucination",
        help="what the summary ranks sites by: wer / cer need references; hallucination (the "
        "share of clips with any words), words_per_second and repetition do not",
    )
    parser.add_argument("--ablation", choices=ABLATIONS, default="zero")
    parser.add_argument(
        "--reference",
        default=None,
        help="clips (as CLIPS) whose activations mean and resample ablation use",
    )
    parser.add_argument("--layers", type=non_negative_int, nargs="+", default=None)
    parser.add_argument("--normaliser", choices=NORMALISERS, default="english")
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--top", type=positive_int, default=5, help="sites to print (5)")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for results (resumes an unfinished one)"
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run the units on Ray (pip install -e '.[ray]'): alone, a local cluster",
    )
    parser.add_argument(
        "--workers", type=positive_int, default=None, help="with --ray: how many workers"
    )


def run_ablate_command(args: argparse.Namespace) -> int:
    from hooked_audio.ablation_study import (
        AblationSpec,
        RayAblationExecutor,
        clip_set,
        run_ablation_study,
    )
    from hooked_audio.ablation_study.clips import check_clips
    from hooked_audio.commands.arguments import load_whisper_for

    spec = AblationSpec(
        components=tuple(args.component),
        layers=None if args.layers is None else tuple(args.layers),
        ablation=args.ablation,
        metric=args.metric,
        normaliser=args.normaliser,
        batch_size=args.batch_size,
    )
    check_workers_with_ray(args)
    if args.ablation != "zero" and args.reference is None:
        raise ValueError(
            f"--ablation {args.ablation} replaces activations with those of reference clips: "
            "give --reference CLIPS, or use --ablation zero."
        )
    clips = clip_set(args.clips)
    check_clips(clips, spec.metric in REFERENCE_METRICS, spec.metric)  # before the model loads
    reference = None if args.reference is None else clip_set(args.reference)
    executor = None
    if args.ray is not None:
        executor = RayAblationExecutor(address=args.ray, workers=args.workers)
    model = load_whisper_for("ablate", args.model)
    result = run_ablation_study(
        model, clips, spec, reference, args.out, model_name=args.model, executor=executor
    )
    print(
        f"{spec.metric} with nothing ablated: {result.baseline:.4g}. The {args.top} sites whose "
        f"{spec.ablation} ablation lowers it most:"
    )
    print(result.top(args.top).to_string())
    if args.out is not None:
        print(f"Rows: {args.out / 'results.jsonl'}; summary.csv; figures/ablation.png")
    return 0
