"""Pair sets from recordings of your own: a CSV of `clean,corrupt[,words][,change][,id]` rows.

Each row names two recordings of one sentence that differ in one word (two takes, or a recording
and its edited copy) and, optionally, the clean take's reference word times (`words`: a TextGrid,
CTM or CSV file, read by `hooked_audio.word_times`) and the change (`change`: `"WORD
REPLACEMENT"`, for when the model mishears the corrupt take). Paths are relative to the CSV's
folder and must stay inside it (the CSV is a manifest: it is never followed elsewhere).

Each pair is built as `hooked-audio patch --align` builds one: the corrupt take is time-warped
onto the clean one when their lengths differ (`align_pair`; the DTW score is kept as the pair's
`alignment_score`), the clean words come from the reference file or the model's word timing,
and the changed word is read off the corrupt take's transcript (`transcribed_pair`). The saved
set (`PairSet.save`) then runs through `hooked-audio study` with word cells on recorded speech.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

from tqdm import tqdm

from hooked_audio.audio import load_audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.whisper.front_end import WINDOW_SECONDS
from hooked_audio.pairs import MinimalPair, PairSet
from hooked_audio.safe_files import check_pair_id
from hooked_audio.study.pair_source import read_csv
from hooked_audio.word_times import read_word_times
from hooked_audio.word_times.timed_clip import TimedClip

RECORDED_COLUMNS = ("clean", "corrupt")
OPTIONAL_COLUMNS = ("words", "change", "id")


def csv_header(path: Path) -> list[str]:
    return read_csv(path)[0]


def is_recorded_csv(path: str | Path) -> bool:
    """Whether the CSV names recordings (`clean` and `corrupt` columns), not sentences."""
    return set(RECORDED_COLUMNS) <= set(csv_header(Path(path)))


def _inside(folder: Path, name: str, where: str) -> Path:
    """`folder / name` when it is an existing file inside `folder`, else a ValueError."""
    target = (folder / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(folder):
        raise ValueError(
            f"{where} names {name!r}, outside the CSV's folder {str(folder)!r}: paths in the CSV "
            "are relative to its folder and stay inside it. Copy the file there."
        )
    if not target.is_file():
        raise ValueError(f"{where} names {name!r}: no such file in {str(folder)!r}.")
    return target


def _change(text: str, where: str) -> tuple[str, str] | None:
    if not text:
        return None
    words = text.split()
    if len(words) != 2:
        raise ValueError(
            f"{where}: change is {text!r}; give the clean word and its replacement separated by "
            "a space, e.g. 'putty poofy'."
        )
    return words[0], words[1]


def _read_rows(path: Path) -> list[dict[str, str]]:
    header, rows = read_csv(path)
    unknown = [c for c in header if c not in RECORDED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown or not set(RECORDED_COLUMNS) <= set(header):
        raise ValueError(
            f"{path}: a CSV of recorded pairs has the columns clean,corrupt and optionally "
            f"words, change, id; its header is {header}."
        )
    if not rows:
        raise ValueError(f"{path}: the CSV has a header but no pairs.")
    extra = [n for n, row in enumerate(rows, 1) if None in row]
    if extra:
        raise ValueError(
            f"{path}, row {extra[0]}: more fields than the header (an unquoted comma?)."
        )
    return [{k: v or "" for k, v in row.items()} for row in rows]


def checked_rows(path: str | Path) -> list[tuple[str, str, dict[str, str]]]:
    """`(pair id, where, row)` for every row, after the checks that need no model (empty
    columns, files inside the CSV's folder, the change column, unique ids): a bad row anywhere
    is refused before any take is transcribed."""
    path = Path(path)
    folder = path.parent.resolve()
    checked, seen = [], {}
    for number, row in enumerate(_read_rows(path), start=1):
        where = f"{path}, row {number}"
        empty = [c for c in RECORDED_COLUMNS if not row[c]]
        if empty:
            raise ValueError(f"{where}: {', '.join(empty)} is empty.")
        pair_id = check_pair_id(row.get("id") or f"{number:03d}-{Path(row['clean']).stem}")
        if pair_id in seen:
            raise ValueError(f"{where}: id {pair_id!r} is also row {seen[pair_id]}'s.")
        seen[pair_id] = number
        for column in (*RECORDED_COLUMNS, *(("words",) if row.get("words") else ())):
            _inside(folder, row[column], where)
        _change(row.get("change", ""), where)
        checked.append((pair_id, where, row))
    return checked


def iter_pairs_from_recordings(
    model, path: str | Path, skip: Collection[str] = (), progress: bool = True
) -> Iterator[MinimalPair]:
    """The pairs of the CSV's rows (see the module docstring), built one at a time with
    `model` (a `HookedWhisper`: it transcribes the takes and, without reference times, times
    the words). Every row is checked first (`checked_rows`); a row that cannot be made a
    pair raises a ValueError naming the row and the fix. Ids in `skip` are not built again."""
    from hooked_audio.corruptions import align_pair
    from hooked_audio.models.whisper.transcribed_pair import transcribed_pair, warp_refusal

    path = Path(path)
    folder = path.parent.resolve()
    todo = [entry for entry in checked_rows(path) if entry[0] not in skip]
    for pair_id, where, row in tqdm(todo, desc="pairs", disable=not progress):
        clean_path, corrupt_path = (_inside(folder, row[c], where) for c in RECORDED_COLUMNS)
        clean, corrupt = load_audio(clean_path), load_audio(corrupt_path)
        for name, audio in ((row["clean"], clean), (row["corrupt"], corrupt)):
            if len(audio) > WINDOW_SECONDS * SAMPLE_RATE:
                raise ValueError(
                    f"{where}: {name} is {len(audio) / SAMPLE_RATE:.1f} s long, over Whisper's "
                    f"{WINDOW_SECONDS} s window; cut both takes to the sentence."
                )
        words, origin = None, None
        if row.get("words"):
            words_path = _inside(folder, row["words"], where)
            try:
                words = TimedClip(row["clean"], clean, read_word_times(words_path)).words
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
            origin = row["words"]
        score = None
        if len(clean) != len(corrupt):
            aligned = align_pair(clean, corrupt)
            corrupt, score = aligned.warped, aligned.score
        change = _change(row.get("change", ""), where)
        try:
            pair = transcribed_pair(model, clean, corrupt, words, pair_id=pair_id, change=change)
        except ValueError as error:
            message, suggestion = str(error), None
            if score is not None and change is None:
                message, suggestion = warp_refusal(model, clean_path, corrupt_path, error)
            hint = f" To build it anyway, set its change column to {suggestion!r}." * bool(
                suggestion
            )
            raise ValueError(f"{where}: {message}{hint}") from None
        pair.alignment_score = score
        if origin is not None:
            pair.meta["word_times"] = origin
        pair.meta["recordings"] = {"clean": row["clean"], "corrupt": row["corrupt"]}
        yield pair


def pairs_from_recordings(model, path: str | Path, progress: bool = True) -> PairSet:
    """`iter_pairs_from_recordings`'s pairs as one `PairSet`."""
    return PairSet(iter_pairs_from_recordings(model, path, progress=progress))
