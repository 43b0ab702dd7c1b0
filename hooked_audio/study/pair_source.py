"""Where a study's pairs come from: the bundled set, a saved `PairSet` folder, or a CSV of
sentences to synthesise."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator
from pathlib import Path

from hooked_audio.pairs import MinimalPair, PairSet, bundled_pairs, content_pair

CSV_COLUMNS = ("sentence", "word", "replacement")


def _pair_id(row: int, word: str, replacement: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{word}-{replacement}").strip("-").lower()
    return f"{row:03d}-{slug or 'pair'}"


def _stripped(row: dict) -> dict:
    """A row with its names and values stripped (extra fields stay a list under None)."""
    return {
        (k.strip() if isinstance(k, str) else k): (v.strip() if isinstance(v, str) else v)
        for k, v in row.items()
    }


def read_csv(path: str | Path) -> tuple[list[str], list[dict]]:
    """A CSV's stripped header and rows; a file that is not UTF-8 or not well-formed CSV is
    named with the fix (both kinds of pairs CSV read through here)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, strict=True)
            header = [name.strip() for name in reader.fieldnames or []]
            return header, [_stripped(row) for row in reader]
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text ({error}); save the CSV as UTF-8 (e.g. from a "
            "spreadsheet: CSV UTF-8)."
        ) from None
    except csv.Error as error:
        raise ValueError(
            f"{path}: not a well-formed CSV ({error}); check the quoting of that line (a field "
            'holding a comma or a quote must be quoted, with quotes doubled: "say ""hi""").'
        ) from None


def _read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV of sentences, once its header has the columns."""
    header, rows = read_csv(path)
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{path}: the CSV needs the columns {', '.join(CSV_COLUMNS)}[, voice]; "
            f"it lacks {', '.join(missing)} (header: {header})."
        )
    return rows


def _row_problem(row: dict) -> str | None:
    """Why a CSV row cannot become a content pair (checked for every row before any work)."""
    if None in row or any(isinstance(v, list) for v in row.values()):
        return "it has more fields than the header (an unquoted comma?)"
    empty = [c for c in CSV_COLUMNS if not row.get(c)]
    if empty:
        return f"{', '.join(empty)} is empty"
    word, replacement = row["word"], row["replacement"]
    found = len(re.findall(rf"\b{re.escape(word)}\b", row["sentence"]))
    if found != 1:
        return f"{word!r} must occur exactly once in the sentence as a whole word (found {found})"
    if word == replacement:
        return f"word and replacement are both {word!r}"
    return None


def check_csv(path: str | Path) -> list[dict[str, str]]:
    """The CSV's rows once every one can become a pair; else a ValueError naming the rows."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: the CSV has a header but no pairs.")
    problems = [(i, p) for i, row in enumerate(rows, start=1) if (p := _row_problem(row))]
    if problems:
        shown = "; ".join(f"row {i}: {p}" for i, p in problems[:5])
        more = f" (and {len(problems) - 5} more rows)" if len(problems) > 5 else ""
        raise ValueError(f"{path}: {len(problems)} row(s) cannot be pairs: {shown}{more}.")
    return rows


def iter_pairs_from_csv(
    path: str | Path, skip: Collection[str] = (), progress: bool = False
) -> Iterator[MinimalPair]:
    """The content pairs of a CSV with the columns `sentence, word, replacement[, voice]`,
    synthesised (espeak-ng, word-aligned) one at a time: `word` appears in `sentence` and is
    replaced by `replacement` in the corrupt clip. Every row is checked before any is
    synthesised (a bad row anywhere is refused at once, with its number). Pairs whose ids are
    in `skip` (a resumed build's) are not made again; `progress` shows a bar."""
    from tqdm.auto import tqdm

    rows = check_csv(path)
    todo = [
        (pair_id, row)
        for i, row in enumerate(rows, start=1)
        if (pair_id := _pair_id(i, row["word"], row["replacement"])) not in skip
    ]
    for pair_id, row in tqdm(todo, desc="pairs", disable=not progress):
        yield content_pair(
            pair_id,
            row["sentence"],
            row["word"],
            row["replacement"],
            voice=row.get("voice") or "en-us",
        )


def pairs_from_csv(path: str | Path, progress: bool = False) -> PairSet:
    """`iter_pairs_from_csv`'s pairs as one `PairSet`."""
    return PairSet(iter_pairs_from_csv(path, progress=progress))


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
