"""File access of a pair-set directory that stays inside it.

Pair ids name files, and a manifest names the files to read, so both are checked:
ids may only use safe file-name characters, manifest paths must resolve (symlinks
followed) to a file inside the directory, and writes go through a fresh temporary
file that is renamed over the target, so a symlink planted at the target is replaced,
never followed.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

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
