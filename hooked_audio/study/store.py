"""A study's output folder: tidy rows (JSONL, appended one finished unit at a time), the
units that finished, the pairs left out, and the spec, so a stopped study resumes.

Files: `spec.json`, `results.jsonl` (one row per pair, direction, activation, layer, cell),
`done.jsonl` (one line per finished unit), `skipped.json` (pairs not studied, with why).
A unit's rows are appended before its `done` line, so rows of a unit that did not finish are
dropped when the folder is opened again."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from hooked_audio.study.spec import StudySpec


class StudyStore:
    """The output folder of one study (None: keep rows in memory only)."""

    def __init__(self, directory: str | Path | None, spec: StudySpec, model_name: str):
        self.directory = None if directory is None else Path(directory)
        self.rows: list[dict] = []
        self.done: set[str] = set()
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        spec_file = self.directory / "spec.json"
        current = {"model": model_name, **asdict(spec)}
        current = json.loads(json.dumps(current))  # tuples as lists, as they read back
        if spec_file.exists():
            saved = json.loads(spec_file.read_text())
            # a field a newer StudySpec added reads as its default in an older folder
            defaults = json.loads(json.dumps(asdict(StudySpec())))
            saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
            if saved != current:
                raise ValueError(
                    f"{self.directory} holds a study with another design ({saved}); this one is "
                    f"{current}. Resume with the same options, or write to a new folder."
                )
        else:
            spec_file.write_text(json.dumps(current, indent=1))
        self.done = set(self._read_lines("done.jsonl"))
        self.rows = [row for row in self._read_lines("results.jsonl") if row["unit"] in self.done]
        with open(self.directory / "results.jsonl", "w") as f:  # drop unfinished units' rows
            f.writelines(json.dumps(row) + "\n" for row in self.rows)

    def _read_lines(self, name: str) -> list:
        path = self.directory / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def add_unit(self, unit: str, rows: list[dict]) -> None:
        self.rows.extend(rows)
        self.done.add(unit)
        if self.directory is None:
            return
        with open(self.directory / "results.jsonl", "a") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        with open(self.directory / "done.jsonl", "a") as f:
            f.write(json.dumps(unit) + "\n")

    def write_skipped(self, skipped: list[dict]) -> None:
        if self.directory is not None:
            (self.directory / "skipped.json").write_text(json.dumps(skipped, indent=1))
