"""Reading reference word times from the files forced aligners and annotators write:

- Praat TextGrid (`.TextGrid`; Montreal Forced Aligner, WebMAUS, Gentle's exports), read with
  `praatio`: the interval tier named `words` (any case), the only interval tier, or the one named
  by `tier`; empty and silence intervals (`""`, `sil`, `sp`, `<eps>`) and non-speech markers
  (`spn`, and any label in angle brackets: MFA's `<vocnoise>`, `<noise>`, `<unk>`) are left out.
- NIST CTM (`.ctm`; Kaldi, `sclite`): `utterance channel start duration word [confidence]` per
  line; a file of several utterances needs `utterance`.
- CSV (`.csv`): a `word,start,end` header and one row per word, in seconds.

Every reader returns `WordTimes` checked by `check_word_times` (order, overlap, empty words), and
raises ValueError naming the file, the tier or line, and the fix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hooked_audio.word_times.checks import WordTimes, check_word_times

WORD_COLUMNS = ("word", "start", "end")
#: interval labels that mark silence, not a word
SILENCE_LABELS = frozenset({"", "sil", "sp", "<eps>", "<sil>", "sil0", "spn"})


def is_word(label: str) -> bool:
    """Whether an aligner's interval label is a word: not silence (`SILENCE_LABELS`) and not a
    non-speech marker in angle brackets (`<vocnoise>`, `<noise>`, `<unk>`: the model does not
    transcribe them, so counting them would misalign the words)."""
    label = label.strip().lower()
    return label not in SILENCE_LABELS and not (label.startswith("<") and label.endswith(">"))


def read_word_times(
    path: str | Path, tier: str | None = None, utterance: str | None = None
) -> WordTimes:
    """The word times in `path`, a TextGrid, CTM or CSV file (by its suffix). `tier` picks a
    TextGrid's interval tier; `utterance` a CTM file's utterance."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r}: no such word-times file.")
    suffix = path.suffix.lower()
    if suffix == ".textgrid":
        return read_textgrid(path, tier)
    if suffix == ".ctm":
        return read_ctm(path, utterance)
    if suffix == ".csv":
        return read_csv(path)
    raise ValueError(
        f"{str(path)!r}: word times are read from a TextGrid (.TextGrid), CTM (.ctm) or CSV "
        f"(.csv with word,start,end) file, not {path.suffix or 'a file without suffix'}."
    )


def _word_tier(textgrid, path: Path, tier: str | None):
    from praatio.utilities.constants import INTERVAL_TIER

    intervals = [
        name for name in textgrid.tierNames if textgrid.getTier(name).tierType == INTERVAL_TIER
    ]
    if tier is not None:
        if tier not in textgrid.tierNames:
            raise ValueError(
                f"{str(path)!r} has no tier {tier!r}; its tiers: {list(textgrid.tierNames)}."
            )
        if tier not in intervals:
            raise ValueError(f"{str(path)!r}: tier {tier!r} is a point tier, not word intervals.")
        return textgrid.getTier(tier)
    named = [name for name in intervals if name.strip().lower() == "words"]
    if len(named) == 1 or len(intervals) == 1:
        return textgrid.getTier((named or intervals)[0])
    raise ValueError(
        f"{str(path)!r}: which tier holds the words? Its interval tiers are {intervals} and none "
        "is named 'words'; pass the tier's name to read_word_times (tier=...), or name the "
        "word tier 'words'."
    )


def read_textgrid(path: str | Path, tier: str | None = None) -> WordTimes:
    """The word intervals of a TextGrid's word tier (see the module docstring)."""
    from praatio import textgrid as praat_textgrid

    path = Path(path)
    try:
        grid = praat_textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as error:  # praatio raises bare Exceptions and parsing errors alike
        raise ValueError(f"{str(path)!r} is not a readable TextGrid ({error}).") from None
    word_tier = _word_tier(grid, path, tier)
    words = [
        (entry.label.strip(), entry.start, entry.end)
        for entry in word_tier.entries
        if is_word(entry.label)
    ]
    if not words:
        raise ValueError(
            f"{str(path)!r}: tier {word_tier.name!r} holds no word (only empty or silence "
            "intervals)."
        )
    return check_word_times(f"{path.name}, tier {word_tier.name!r}", words)


def read_ctm(path: str | Path, utterance: str | None = None) -> WordTimes:
    """The words of one utterance of a CTM file (see the module docstring)."""
    path = Path(path)
    rows: dict[str, list[tuple[str, float, float]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(";;"):
            continue
        fields = line.split()
        try:
            if len(fields) not in (5, 6):
                raise ValueError
            start, duration = float(fields[2]), float(fields[3])
        except ValueError:
            raise ValueError(
                f"{path}:{number}: a CTM line is 'utterance channel start duration word "
                f"[confidence]', got {line.strip()!r}."
            ) from None
        if is_word(fields[4]):
            rows.setdefault(fields[0], []).append((fields[4], start, start + duration))
    if not rows:
        raise ValueError(f"{str(path)!r} holds no CTM word line.")
    if utterance is None:
        if len(rows) > 1:
            raise ValueError(
                f"{str(path)!r} holds {len(rows)} utterances ({', '.join(sorted(rows)[:5])}"
                f"{', ...' if len(rows) > 5 else ''}); name one (utterance=...)."
            )
        utterance = next(iter(rows))
    if utterance not in rows:
        raise ValueError(f"{str(path)!r} has no utterance {utterance!r}.")
    return check_word_times(f"{path.name}, utterance {utterance!r}", rows[utterance])


def read_csv(path: str | Path) -> WordTimes:
    """A CSV with a `word,start,end` header and one row per word (seconds)."""
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
    words = zip(table["word"], times["start"], times["end"])
    return check_word_times(Path(path).name, [(str(w), float(s), float(e)) for w, s, e in words])


def write_csv(words: WordTimes, path: str | Path) -> None:
    """`words` as a `word,start,end` CSV (what `read_csv` reads)."""
    pd.DataFrame(list(words), columns=list(WORD_COLUMNS)).to_csv(path, index=False)
