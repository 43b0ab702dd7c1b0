"""`hooked-audio pairs build CSV OUT`: synthesise a pair set from a CSV of sentences."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_pairs_parser(sub) -> None:
    parser = sub.add_parser("pairs", help="build minimal pair sets")
    actions = parser.add_subparsers(dest="pairs_command", required=True)
    build = actions.add_parser(
        "build", help="synthesise content pairs (espeak-ng, word-aligned) from a CSV"
    )
    build.add_argument("csv", type=Path, help="CSV with columns sentence,word,replacement[,voice]")
    build.add_argument("out", type=Path, help="folder to write (manifest.jsonl + FLAC files)")
    build.add_argument(
        "--json",
        action="store_true",
        help="print the folder and each pair's id, texts, changed words and word span as JSON",
    )


def run_pairs_command(args: argparse.Namespace) -> int:
    from hooked_audio.study.pair_source import pairs_from_csv

    if not args.csv.is_file():
        raise SystemExit(f"{args.csv}: no such CSV file.")
    pairs = pairs_from_csv(args.csv)
    pairs.save(args.out)
    if args.json:
        fields = ("id", "clean_text", "corrupt_text", "differing_words", "spans_s")
        written = [{field: getattr(pair, field) for field in fields} for pair in pairs]
        print(json.dumps({"out": str(args.out), "pairs": written}))
        return 0
    print(
        f"{len(pairs)} pairs written to {args.out} (load them with PairSet.load, or run "
        f"`hooked-audio study {args.out} --out RESULTS`)."
    )
    return 0
