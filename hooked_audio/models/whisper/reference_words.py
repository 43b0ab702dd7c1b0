"""Reference word times of a clip that do not come from the model (`TimedClip`): read from a CSV
of `word,start,end` rows, or from the manifest of the pair set the clip belongs to
(`meta.clean_words` of the pair whose `clean_audio` it is). `hooked-audio heads` scores heads
against them; `hooked-audio patch` cuts its word cells from them when it has them."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hooked_audio.audio import Audio
from hooked_audio.constants import SAMPLE_RATE, WINDOW_SECONDS
from hooked_audio.pairs.pair_set import MANIFEST

#: `(word, start_s, end_s)` per word, in order; a "word" may hold several (`"in the"`)
WordTimes = tuple[tuple[str, float, float], ...]

WORD_COLUMNS = ("word", "start", "end")


@dataclass(frozen=True)
class TimedClip:
    """A clip of at most one window and the reference `(word, start_s, end_s)` of its words, in
    order. `name` labels it in results."""

    name: str
    audio: Audio
    words: WordTimes

    def __post_init__(self) -> None:
        if not self.words:
            raise ValueError(f"Clip {self.name!r} has no reference words.")
        seconds = len(self.audio) / SAMPLE_RATE
        if seconds > WINDOW_SECONDS:
            raise ValueError(
                f"Clip {self.name!r} is {seconds:.1f} s long, over Whisper's {WINDOW_SECONDS} s "
                "window; cut it into clips of one window."
            )
        check_word_times(self.name, self.words, seconds)


def check_word_times(name: str, words, seconds: float) -> WordTimes:
    """`words` as `WordTimes` (`(str, float, float)` each) if every word is non-empty, has
    finite times `0 <= start < end` and starts inside a clip of `seconds`; else a ValueError
    naming the clip `name` and the word."""
    checked = []
    for word, start, end in words:
        word, start, end = str(word), float(start), float(end)
        if not word.strip():
            raise ValueError(f"Clip {name!r}: a reference word is empty.")
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise ValueError(
                f"Clip {name!r}: word {word!r} needs finite times 0 <= start < end, "
                f"got {start}-{end}."
            )
        if start >= seconds:
            raise ValueError(
                f"Clip {name!r}: word {word!r} starts at {start:g} s, after the clip "
                f"ends ({seconds:.2f} s)."
            )
        checked.append((word, start, end))
    return tuple(checked)


def read_word_times(path: str | Path) -> WordTimes:
    """A CSV with a `word,start,end` header and one row per word (seconds) -> `WordTimes`.
    ValueError naming the file (and the line) when it is not that."""
    try:
        table = pd.read_csv(path, dtype={"word": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable CSV of word times ({error}).") from None
    missing = [column for column in WORD_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: no column {', '.join(missing)}; a word-times CSV has the header "
            "word,start,end and one row per word (times in seconds)."
        )
    if table.empty:
        raise ValueError(f"{path}: no rows; give one word,start,end row per word.")
    times = table[["start", "end"]].apply(pd.to_numeric, errors="coerce")
    bad = times.isna().any(axis=1)
    if bad.any():
        line = int(bad.to_numpy().argmax()) + 2  # the header is line 1
        raise ValueError(f"{path}:{line}: start and end must be numbers of seconds.")
    return tuple(
        (str(word), float(start), float(end))
        for word, start, end in zip(table["word"], times["start"], times["end"])
    )


def pair_set_words(path: str | Path) -> WordTimes | None:
    """The word times of `path` when it is the clean clip of a pair set (a `manifest.jsonl`
    beside it names it as a pair's `clean_audio`, with `meta.clean_words`); else None."""
    path = Path(path)
    manifest = path.parent / MANIFEST
    if not path.is_file() or not manifest.is_file():
        return None
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{manifest}:{number} is not valid JSON ({error}).") from None
        clean = path.parent / str(entry.get("clean_audio", ""))
        if clean.is_file() and clean.resolve() == path.resolve():
            words = (entry.get("meta") or {}).get("clean_words")
            return tuple((str(w), float(s), float(e)) for w, s, e in words) if words else None
    return None
