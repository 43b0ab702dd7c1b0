"""A clip's files in the activation store: its windows' rows appended to one Arrow file per
hook as they come, renamed into place once all its windows are written. What
`write_activations` runs in this process, and what each Ray worker runs
(`hooked_audio.activation_store.ray_writers`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.activation_store.layout import schema, shard_path
from hooked_audio.activation_store.window_rows import window_rows
from hooked_audio.safe_files import inside


@dataclass
class _OpenClip:
    clip: StoreClip
    n_windows: int
    written: int = 0
    rows: int = 0
    writers: dict = field(default_factory=dict)  # hook -> (tmp path, pa.ipc writer, features)


def write_clips(
    source,
    clips: list[StoreClip],
    hooks: list[str],
    root: Path,
    batch_size: int,
    padding: bool,
    finished: Callable[[dict], None],
) -> None:
    """Write the clips' files (their windows `batch_size` at a time) and call `finished` with
    each clip's line for clips.jsonl (plus its `features` per hook) once its files are in
    place. What a Ray worker runs too."""
    open_clips: dict[str, _OpenClip] = {}
    for rows in window_rows(source, clips, hooks, batch_size, padding):
        window, clip = rows.window, rows.window.clip
        if clip.id not in open_clips:
            open_clips[clip.id] = _OpenClip(clip, rows.n_windows)
        state = open_clips[clip.id]
        for hook in hooks:
            _append(
                root,
                state,
                hook,
                rows.values[hook],
                clip.id,
                window.index,
                rows.positions,
                rows.times,
                rows.words,
            )
        state.written += 1
        state.rows += len(rows.positions)
        if state.written == state.n_windows:
            finished(_finish(root, state))
            del open_clips[clip.id]


def _append(root, state, hook, values, clip_id, window, positions, times, words) -> None:
    d = values.shape[1]
    if hook not in state.writers:
        target = shard_path(root, hook, clip_id)
        # the hook's folder must be a real folder inside the store (a planted link is refused)
        inside(root, target.relative_to(root), replacing=True)
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        state.writers[hook] = (tmp, pa.ipc.new_file(str(tmp), schema(d)), d)
    keep = len(positions)
    table = pa.table(
        {
            "clip": [clip_id] * keep,
            "window": np.full(keep, window, dtype=np.int32),
            "position": positions,
            "time_s": times,
            "word": words,
            "activation": pa.FixedSizeListArray.from_arrays(
                pa.array(values.reshape(-1), pa.float32()), d
            ),
        },
        schema=schema(d),
    )
    state.writers[hook][1].write_table(table)


def _finish(root: Path, state: _OpenClip) -> dict:
    """Close the clip's files and rename them into place; its line for clips.jsonl."""
    features = {}
    for hook, (tmp, writer, d) in state.writers.items():
        features[hook] = d
        writer.close()
        os.replace(tmp, shard_path(root, hook, state.clip.id))
    return {
        "id": state.clip.id,
        "seconds": state.clip.seconds,
        "windows": state.n_windows,
        "rows": state.rows,
        "features": features,
    }
