"""Reference word times of a clip from the manifest of the pair set it belongs to
(`meta.clean_words` of the pair whose `clean_audio` it is); times read from a TextGrid, CTM or
CSV file are `hooked_audio.word_times.read_word_times`'s. `hooked-audio heads` scores heads
against them; `hooked-audio patch` cuts its word cells from them when it has them."""

from __future__ import annotations

import json
from pathlib import Path

from hooked_audio.pairs.pair_set import MANIFEST
from hooked_audio.word_times import WordTimes


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
