"""`hooked-audio pairs build CSV OUT`: a pair set from a CSV of sentences (synthesised) or of
recordings (`clean,corrupt[,words][,change][,id]`, built with a model; see
`hooked_audio.study.recorded_pairs`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_pairs_parser(sub) -> None:
    parser = sub.add_parser("pairs", help="build minimal pair sets")
    actions = parser.add_subparsers(dest="pairs_command", required=True)
    build = actions.add_parser(
        "build",
        help="content pairs from a CSV of sentences (synthesised with espeak-ng, word-aligned) "
        "or of recordings (two takes per row, aligned and transcribed by --model)",
    )
    build.add_argument(
        "csv",
        type=Path,
        help="CSV with the columns sentence,word,replacement[,voice] (synthesis) or "
        "clean,corrupt[,words][,change][,id] (recordings; paths relative to the CSV's folder, "
        "words: the clean take's TextGrid, CTM or CSV word times, change: 'WORD REPLACEMENT')",
    )
    build.add_argument(
        "--model",
        default="tiny.en",
        help="for a CSV of recordings: the Whisper that transcribes the takes and, without "
        "reference times, times their words (default: tiny.en)",
    )
    build.add_argument("out", type=Path, help="folder to write (manifest.jsonl + FLAC files)")
    build.add_argument(
        "--json",
        action="store_true",
        help="print the folder and each pair's id, texts, changed words and word span as JSON",
    )


def run_pairs_command(args: argparse.Namespace) -> int:
    from hooked_audio.pairs import PairSet
    from hooked_audio.pairs.growing_set import GrowingPairSet
    from hooked_audio.study.pair_source import check_csv, iter_pairs_from_csv
    from hooked_audio.study.recorded_pairs import (
        checked_rows,
        is_recorded_csv,
        iter_pairs_from_recordings,
    )

    if not args.csv.is_file():
        raise FileNotFoundError(f"{args.csv}: no such CSV file.")
    recorded = is_recorded_csv(args.csv)
    # every row is checked before anything is built or written (a bad last row fails now)
    if recorded:
        checked_rows(args.csv)
    else:
        check_csv(args.csv)
    # each pair is written as soon as it is built; a stopped build resumes where it stopped
    out = GrowingPairSet(args.out, args.csv)
    if out.done and not args.json:
        print(f"Resuming: {len(out.done)} pairs already built in {args.out}.")
    if recorded:
        from hooked_audio.commands.arguments import load_whisper_for

        model = load_whisper_for("pairs", args.model)
        built = iter_pairs_from_recordings(model, args.csv, out.done, progress=not args.json)
    else:
        built = iter_pairs_from_csv(args.csv, out.done, progress=not args.json)
    for pair in built:
        out.add(pair)
    pairs = PairSet.load(args.out)
    if args.json:
        fields = ("id", "clean_text", "corrupt_text", "differing_words", "spans_s")
        written = [
            {
                **{field: getattr(pair, field) for field in fields},
                "alignment_score": pair.alignment_score,
                "word_times": pair.meta.get("word_times"),
            }
            for pair in pairs
        ]
        print(json.dumps({"out": str(args.out), "pairs": written}))
        return 0
    print(
        f"{len(pairs)} pairs written to {args.out} (load them with PairSet.load, or run "
        f"`hooked-audio study {args.out} --out RESULTS`)."
    )
    return 0
