"""The files of an activation store, and the checks that keep every path inside its folder.

    store.json           what it holds: source, hooks, feature sizes, time step, padding
    clips.jsonl          one line per finished clip: id, seconds, windows, rows
    <hook>/<clip>.arrow  one Arrow IPC file per hook and clip, one row per position:
                         clip, window, position, time_s, word, activation

Clip ids and hook names are checked before they name a file (safe file stems; hook names from
store.json must be ones the store was written with), so a store's own files never lead out of
its folder."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from hooked_audio.safe_files import check_file_stem

FORMAT = 1
MANIFEST = "store.json"
CLIPS = "clips.jsonl"
_HOOK_RE = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")


def check_hook_name(name: object) -> str:
    if not isinstance(name, str) or not _HOOK_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a hook name (e.g. 'encoder.blocks.2.hook_resid_post').")
    return name


def shard_path(root: Path, hook: str, clip_id: str) -> Path:
    check_hook_name(hook)
    check_file_stem(clip_id, "A clip id", "'interview-03'")
    return root / hook / f"{clip_id}.arrow"


def schema(features: int) -> pa.Schema:
    return pa.schema(
        [
            ("clip", pa.string()),
            ("window", pa.int32()),
            ("position", pa.int32()),
            ("time_s", pa.float64()),
            ("word", pa.string()),
            ("activation", pa.list_(pa.float32(), features)),
        ]
    )
