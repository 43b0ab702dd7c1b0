"""Where a study's pairs come from: the bundled set, a saved `PairSet` folder, or a CSV of
sentences to synthesise."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from hooked_audio.pairs import PairSet, bundled_pairs, content_pair

CSV_COLUMNS = ("sentence", "word", "replacement")


def _pair_id(row: int, word: str, replacement: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{word}-{replacement}").strip("-").lower()
    return f"{row:03d}-{slug or 'pair'}"


def pairs_from_csv(path: str | Path) -> PairSet:
    """Content pairs synthesised (espeak-ng, word-aligned) from a CSV with the columns
    `sentence, word, replacement[, voice]`: `word` appears in `sentence` and is replaced by
    `replacement` in the corrupt clip."""
    path = Path(path)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{path}: the CSV needs the columns {', '.join(CSV_COLUMNS)}[, voice]; "
                f"it lacks {', '.join(missing)} (header: {header})."
            )
        rows = [{k.strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    if not rows:
        raise ValueError(f"{path}: the CSV has a header but no pairs.")
    pairs = PairSet()
    for i, row in enumerate(rows, start=1):
        empty = [c for c in CSV_COLUMNS if not row[c]]
        if empty:
            raise ValueError(f"{path}, row {i}: {', '.join(empty)} is empty.")
        pairs.append(
            content_pair(
                _pair_id(i, row["word"], row["replacement"]),
                row["sentence"],
                row["word"],
                row["replacement"],
                voice=row.get("voice") or "en-us",
            )
        )
    return pairs


def load_pairs(source: str | Path) -> PairSet:
    """`"bundled"`, a `PairSet` folder (with `manifest.jsonl`), or a `.csv` file."""
    if str(source) == "bundled":
        return bundled_pairs()
    path = Path(source)
    if path.is_dir():
        return PairSet.load(path)
    if path.suffix.lower() == ".csv" and path.is_file():
        return pairs_from_csv(path)
    raise ValueError(
        f"{source!r} is not a pair set: give 'bundled', a folder written by PairSet.save "
        "(with manifest.jsonl), or a CSV file of sentence,word,replacement[,voice] rows."
    )
