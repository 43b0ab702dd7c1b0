"""Reading and writing the files of an output folder without leaving it.

Every folder the library writes (a study, an activation store, a pair set, a command's `--out`)
describes itself; a symlink planted inside it must not make a write land, or a read come from,
somewhere else. The helpers here:

- `inside(folder, name)`: the path of `name` in `folder`, refused when it is a symlink or
  resolves outside the folder (for reads, and before any write);
- `write_text(folder, name, text)`: written to a temporary file in the folder, then renamed
  over the target, so a symlink there is replaced, never followed, and a crash mid-write
  leaves the old file whole;
- `append_lines(folder, name, lines)`: appended without following a symlink;
- `read_jsonl(path)`: one JSON value per line, naming the file and line of a bad one; a last
  line cut off mid-write (a crash while appending) is dropped with a warning, not fatal;
- `check_file_stem` / `check_pair_id`: ids that name files use safe characters only;
  `path_inside` / `write_inside`: a pair set's manifest paths and files (`PairSet.save/load`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO


def inside(
    folder: str | os.PathLike[str], name: str | os.PathLike[str], replacing: bool = False
) -> Path:
    """`folder / name`, refusing a symlink at it (or at a folder between) and a path that
    resolves outside `folder`. The file need not exist. `replacing`: the caller renames a new
    file over the target, so a symlink at the target itself is allowed (it gets replaced)."""
    folder = Path(folder)
    path = folder / name
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{str(name)!r} is not a path inside {folder}.")
    current = folder
    for depth, part in enumerate(relative.parts, start=1):
        current = current / part
        if replacing and depth == len(relative.parts):
            return path
        if current.is_symlink():
            raise ValueError(
                f"{current} is a symlink (to {os.readlink(current)!r}); the library reads and "
                f"writes only real files inside {folder}. Remove the link."
            )
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"{path} resolves to {path.resolve()}, outside {folder}.")
    return path


def write_text(folder: str | os.PathLike[str], name: str, text: str) -> Path:
    """Write `text` to `folder / name` atomically (temporary file + rename): a symlink at the
    target is replaced, not followed. Returns the path."""
    target = inside(folder, name, replacing=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def write_bytes_via(folder: str | os.PathLike[str], name: str, write) -> Path:
    """Call `write(temporary_path)` to make the file, then rename it over `folder / name` (for
    writers that take a path: Arrow, PNG). Returns the path."""
    target = inside(folder, name, replacing=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def append_lines(folder: str | os.PathLike[str], name: str, lines: Iterable[str]) -> None:
    """Append `lines` (each without its newline) to `folder / name`, never through a
    symlink."""
    target = inside(folder, name)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(target, flags, 0o644), "a", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def read_jsonl(path: str | os.PathLike[str]) -> list[tuple[str, object]]:
    """`(line text, value)` for each non-blank line of a JSON-lines file. A bad line raises a
    `ValueError` naming the file and line, except an unterminated last line (a write cut off by
    a crash), which is dropped with a warning so the work can resume."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text ({error}); it is not a file we wrote."
        ) from None
    lines = text.split("\n")
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append((line, json.loads(line)))
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: cut off mid-write
                warnings.warn(
                    f"{path}: dropped its last line, cut off mid-write ({error}); the work it "
                    "recorded will be redone.",
                    stacklevel=2,
                )
                continue
            raise ValueError(
                f"{path}, line {number}: not JSON ({error}). The file was edited or damaged; "
                "restore it, or delete the folder and start again."
            ) from None
    return entries


def read_json(path: str | os.PathLike[str], what: str) -> object:
    """One JSON document, with an error naming `what` and the file when it is not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} ({what}) is not valid JSON ({error}). It was edited or damaged; restore "
            "it, or start a new folder."
        ) from None


# --------------------------------------------------------------- names and pair-set files
MAX_ID_LENGTH = 200  # the longest file name is "{id}_corrupt.flac", within 255 bytes
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_file_stem(value: object, what: str, example: str) -> str:
    """Return ``value`` if it is a safe file stem (it names files), else raise ``ValueError``
    naming ``what`` it is and an ``example`` of a good one."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value) or len(value) > MAX_ID_LENGTH:
        raise ValueError(
            f"{what} must be a non-empty string of at most {MAX_ID_LENGTH} letters, digits, "
            f"'_', '.', '-', starting with a letter or digit (it names files), got {value!r}; "
            f"e.g. {example}."
        )
    return value


def check_pair_id(pair_id: object) -> str:
    """Return ``pair_id`` if it is a safe file stem, else raise ``ValueError``."""
    return check_file_stem(pair_id, "MinimalPair id", "id='paris-berlin'")


def path_inside(directory: Path, relative: object, where: str) -> Path:
    """The resolved path of ``relative`` if it lies inside ``directory``, else raise.

    ``where`` names the manifest line for the message.
    """
    if not isinstance(relative, str) or not relative:
        raise ValueError(
            f"PairSet.load: {where} gives the audio file as {relative!r}; it must be a "
            "non-empty path relative to the pair directory, e.g. 'p0_clean.flac'."
        )
    root = directory.resolve()
    target = (directory / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(root):
        raise ValueError(
            f"PairSet.load: {where} names audio file {relative!r}, which lies outside the "
            f"pair directory {str(root)!r} (absolute path, '..' or a symlink leading out); "
            "manifest paths must stay inside it. Copy the audio into the directory and "
            "name it relative to it, e.g. 'p0_clean.flac'."
        )
    return target


def write_inside(directory: Path, name: str, write: Callable[[BinaryIO], None]) -> Path:
    """Write the file ``directory / name`` with ``write(file)``, without following links.

    ``name`` must be a plain file name. The data go to a new temporary file in
    ``directory`` (created exclusively) that then replaces the target by rename.
    """
    if Path(name).name != name or name in (".", ".."):
        raise ValueError(
            f"PairSet.save: {name!r} is not a plain file name; pair ids may only use "
            "letters, digits, '_', '.', '-'."
        )
    target = directory / name
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(
            f"PairSet.save: {str(target)!r} is a directory; remove it or save elsewhere."
        )
    tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------- command output folders
#: the file that says which command wrote a folder
OWNER_FILE = ".hooked-audio.json"


def check_output_folder(folder: str | os.PathLike[str], command: str, overwrite: bool) -> Path:
    """Refuse `folder` as a command's `--out` when it is a file, or a non-empty folder another
    command (or nobody) wrote, unless `overwrite`: a command must not silently replace another's
    `results.jsonl`. Call before any work; `claim_output_folder` once there is output."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file, not a folder: give a folder.")
    if overwrite or not folder.exists() or not any(folder.iterdir()):
        return folder
    owner_path = inside(folder, OWNER_FILE)
    owner = read_json(owner_path, "who wrote the folder") if owner_path.is_file() else None
    if isinstance(owner, dict) and owner.get("command") == command:
        return folder
    wrote = f"`hooked-audio {owner['command']}`" if isinstance(owner, dict) else "something else"
    shown = ", ".join(sorted(p.name for p in folder.iterdir())[:5])
    raise ValueError(
        f"--out {folder} is not empty ({shown}) and was written by {wrote}, not `hooked-audio "
        f"{command}`: its files would be replaced. Choose a new folder, or pass --overwrite."
    )


def claim_output_folder(folder: str | os.PathLike[str], command: str) -> Path:
    """Create `folder` and record that `command` writes it (see `check_output_folder`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder, OWNER_FILE, json.dumps({"command": command}) + "\n")
    return folder
