"""A study's output folder: tidy rows (JSONL, appended one finished unit at a time), the
units that finished, the pairs left out, and the spec, so a stopped study resumes.

Files: `spec.json`, `results.jsonl` (one row per pair, direction, activation, layer, cell),
`done.jsonl` (one line per finished unit: its key and the SHA-256 of its rows' lines),
`skipped.json` (pairs not studied, with why), `time_axis.json` (the time-axis check of pairs
whose word times are the model's estimate), `grounding.json` (an audio LM's grounding
coefficients, `hooked_audio.study.run.grounding_rows`). A unit's rows are appended before its `done`
line, so rows of a unit that did not finish are dropped when the folder is opened again; a
unit whose rows no longer match their checksum (edited by hand, damaged) is redone, with a
warning, rather than read back. Every file is read and written only inside the folder
(`hooked_audio.safe_files`): a symlink planted there is refused or replaced, never followed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from hooked_audio.safe_files import append_lines, inside, read_json, read_jsonl, write_text
from hooked_audio.study.report_embed import plain_json
from hooked_audio.study.spec import StudySpec


def _checksum(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


class StudyStore:
    """The output folder of one study (None: keep rows in memory only). `spec`: the study's
    design, a dataclass whose defaults are those of a field an older folder lacks (a
    `StudySpec`, or an ablation study's `AblationSpec`)."""

    def __init__(self, directory: str | Path | None, spec: StudySpec, model_name: str):
        self.directory = None if directory is None else Path(directory)
        self.rows: list[dict] = []
        self.done: set[str] = set()
        self._spec = spec
        self._current = json.loads(json.dumps({"model": model_name, **asdict(spec)}))
        if self.directory is None:
            return
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"{self.directory} is a file, not a folder: give --out a folder.")
        self._check_design()

    def _check_design(self) -> None:
        """Refuse a folder holding a study of another design (before anything is written)."""
        spec_file = inside(self.directory, "spec.json")
        if not spec_file.exists():
            return
        saved = read_json(spec_file, "the study's design")
        if not isinstance(saved, dict):
            raise ValueError(f"{spec_file} does not hold a study's design (a JSON object).")
        # a field a newer StudySpec added reads as its default in an older folder
        defaults = json.loads(json.dumps(asdict(type(self._spec)())))
        saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
        if saved != self._current:
            raise ValueError(
                f"{self.directory} holds a study with another design ({saved}); this one is "
                f"{self._current}. Resume with the same options, or write to a new folder."
            )

    def open(self) -> None:
        """Create the folder (or read back what a stopped study finished): call once every
        argument has been checked, so a refused study writes nothing."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self._check_design()
        if not inside(self.directory, "spec.json").exists():
            write_text(self.directory, "spec.json", json.dumps(self._current, indent=1))
        checksums = self._read_done()
        lines_of = defaultdict(list)
        rows_of = defaultdict(list)
        path = inside(self.directory, "results.jsonl")
        for line, row in read_jsonl(path) if path.exists() else []:
            if not isinstance(row, dict) or "unit" not in row:
                raise ValueError(f"{path}: a line is not a result row ({line[:80]!r}).")
            lines_of[row["unit"]].append(line)
            rows_of[row["unit"]].append(row)
        for unit, checksum in checksums.items():
            if checksum is not None and checksum != _checksum(lines_of[unit]):
                warnings.warn(
                    f"{path}: the rows of unit {unit!r} differ from what the study wrote "
                    "(edited by hand or damaged); that unit is computed again.",
                    stacklevel=3,
                )
                continue
            self.done.add(unit)
        kept = [unit for unit in lines_of if unit in self.done]
        self.rows = [row for unit in kept for row in rows_of[unit]]
        # drop unfinished or distrusted units' rows, and their done lines
        write_text(
            self.directory, "results.jsonl", "".join(f"{ln}\n" for u in kept for ln in lines_of[u])
        )
        write_text(
            self.directory,
            "done.jsonl",
            "".join(json.dumps({"unit": u, "sha256": _checksum(lines_of[u])}) + "\n" for u in kept),
        )

    def _read_done(self) -> dict[str, str | None]:
        """{unit: checksum of its rows} from done.jsonl (None: a folder from before checksums,
        whose lines are bare unit keys)."""
        path = inside(self.directory, "done.jsonl")
        done: dict[str, str | None] = {}
        for line, entry in read_jsonl(path) if path.exists() else []:
            if isinstance(entry, str):
                done[entry] = None
            elif isinstance(entry, dict) and isinstance(entry.get("unit"), str):
                done[entry["unit"]] = entry.get("sha256")
            else:
                raise ValueError(f"{path}: a line is not a finished unit ({line[:80]!r}).")
        return done

    def add_unit(self, unit: str, rows: list[dict]) -> None:
        self.rows.extend(rows)
        self.done.add(unit)
        if self.directory is None:
            return
        lines = [json.dumps(row) for row in rows]
        append_lines(self.directory, "results.jsonl", lines)
        append_lines(
            self.directory, "done.jsonl", [json.dumps({"unit": unit, "sha256": _checksum(lines)})]
        )

    def write_time_axis(self, rows: list[dict]) -> None:
        """`time_axis.json`: the time-axis checks of pairs with estimated word times."""
        if self.directory is not None:
            write_text(self.directory, "time_axis.json", json.dumps(rows, indent=1))

    def write_grounding(self, rows: list[dict]) -> None:
        """`grounding.json`: the grounding coefficients of an audio LM's pairs (none for
        other families: no file)."""
        if self.directory is not None and rows:
            text = json.dumps(plain_json(rows), indent=1, allow_nan=False)  # NaN as null
            write_text(self.directory, "grounding.json", text)

    def write_skipped(self, skipped: list[dict]) -> None:
        if self.directory is not None:
            write_text(self.directory, "skipped.json", json.dumps(skipped, indent=1))
