"""A pair-set folder written one pair at a time, so a long build can stop and resume.

`hooked-audio pairs build` on thousands of rows must not lose an hour of work to a crash or to
one bad row: each pair's audio is written, then its manifest line appended, as soon as it is
built; a build started again skips the pairs the folder already holds. The folder records what
it was built from (`build.json`: the source file's SHA-256), so a resume from another CSV is
refused instead of mixing two sets. The folder is a plain pair set: `PairSet.load` reads it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hooked_audio.pairs.pair_set import MANIFEST, MinimalPair, write_pair_files
from hooked_audio.safe_files import append_lines, inside, read_json, read_jsonl, write_text

BUILD = "build.json"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class GrowingPairSet:
    """`directory` as a pair set built from `source` (a file), one `add` at a time; `done`
    holds the ids it already has."""

    def __init__(self, directory: str | Path, source: str | Path):
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"{self.directory} is a file, not a folder: give a folder.")
        self.directory.mkdir(parents=True, exist_ok=True)
        wanted = {"source": Path(source).name, "sha256": file_sha256(source)}
        build, manifest = inside(self.directory, BUILD), inside(self.directory, MANIFEST)
        started = manifest.exists() and manifest.stat().st_size > 0
        if build.exists() and started:
            saved = read_json(build, "what the pair set was built from")
            if not isinstance(saved, dict) or saved.get("sha256") != wanted["sha256"]:
                raise ValueError(
                    f"{self.directory} was built from another file ({saved}); this build is from "
                    f"{wanted['source']}. Resume with the same CSV, or choose a new folder."
                )
        elif started:
            raise ValueError(
                f"{self.directory} already holds a pair set (manifest.jsonl) that no build "
                "started: choose a new folder."
            )
        else:
            write_text(self.directory, BUILD, json.dumps(wanted) + "\n")
        self.done: set[str] = self._finished_ids(manifest)

    def _finished_ids(self, manifest: Path) -> set[str]:
        """The ids of the manifest's pairs; a last line cut off by a crash is dropped (with a
        warning, by `read_jsonl`) and the manifest rewritten without it, so that pair is built
        again."""
        if not manifest.exists():
            return set()
        entries = read_jsonl(manifest)
        written = [line for line in manifest.read_text(encoding="utf-8").split("\n") if line]
        if len(entries) != len(written):
            write_text(self.directory, MANIFEST, "".join(line + "\n" for line, _ in entries))
        return {entry["id"] for _, entry in entries if isinstance(entry, dict) and "id" in entry}

    def add(self, pair: MinimalPair) -> None:
        """Write the pair's audio, then append its manifest line (a pair is listed only once
        its files are in place)."""
        if pair.id in self.done:
            raise ValueError(f"{self.directory} already holds a pair {pair.id!r}.")
        line = write_pair_files(self.directory, pair)
        append_lines(self.directory, MANIFEST, [line])
        self.done.add(pair.id)
