"""`ActivationStore`: a folder `write_activations` wrote, read back memory-mapped.

Every hook's rows are Arrow IPC files opened with `pyarrow.memory_map`, so `table` and `array`
do not read the activations into memory until they are used (a single clip's `array` is a
view of the file; several clips' are concatenated)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hooked_audio.activation_store.layout import CLIPS, FORMAT, MANIFEST, shard_path


class ActivationStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        manifest = self.directory / MANIFEST
        if not manifest.is_file():
            raise FileNotFoundError(
                f"{str(self.directory)!r} holds no {MANIFEST}: not an activation store "
                "(write one with hooked_audio.activation_store.write_activations)."
            )
        self.manifest = json.loads(manifest.read_text())
        if self.manifest.get("format") != FORMAT:
            raise ValueError(
                f"{manifest} is format {self.manifest.get('format')!r}; this version reads "
                f"format {FORMAT}."
            )
        self.hooks: list[str] = list(self.manifest["hooks"])
        done = self.directory / CLIPS
        lines = done.read_text().splitlines() if done.exists() else []
        self.clip_info = pd.DataFrame(
            [json.loads(line) for line in lines if line],
            columns=["id", "seconds", "windows", "rows"],
        )

    @property
    def clips(self) -> list[str]:
        """The ids of the finished clips, in the order they were written."""
        return list(self.clip_info["id"])

    @property
    def seconds_per_position(self) -> float:
        return float(self.manifest["seconds_per_position"])

    def _hook(self, hook: str) -> str:
        if hook not in self.hooks:
            raise KeyError(f"This store holds {self.hooks}, not {hook!r}.")
        return hook

    def _clips(self, clips) -> list[str]:
        if clips is None:
            return self.clips
        clips = [clips] if isinstance(clips, str) else list(clips)
        missing = sorted(set(clips) - set(self.clips))
        if missing:
            raise KeyError(f"No finished clip {missing} in this store ({len(self.clips)} clips).")
        return clips

    def table(self, hook: str, clips=None) -> pa.Table:
        """The rows of `hook` for `clips` (default: every finished clip), memory-mapped."""
        hook = self._hook(hook)
        tables = [
            pa.ipc.open_file(pa.memory_map(str(shard_path(self.directory, hook, c)))).read_all()
            for c in self._clips(clips)
        ]
        if not tables:
            raise ValueError(f"{str(self.directory)!r} has no finished clip yet.")
        return pa.concat_tables(tables)

    def frame(self, hook: str, clips=None) -> pd.DataFrame:
        """The rows' clip, window, position, time_s and word (no activations)."""
        return self.table(hook, clips).drop_columns(["activation"]).to_pandas()

    def array(self, hook: str, clips=None) -> np.ndarray:
        """The activations `[rows, features]`, float32, in the rows' order."""
        column = self.table(hook, clips).column("activation")
        d = column.type.list_size
        values = [chunk.flatten().to_numpy(zero_copy_only=False) for chunk in column.chunks]
        flat = values[0] if len(values) == 1 else np.concatenate(values)
        return flat.reshape(-1, d)

    def __repr__(self) -> str:
        return (
            f"ActivationStore({str(self.directory)!r}: {len(self.clips)} clips, "
            f"{int(self.clip_info['rows'].sum()) if len(self.clip_info) else 0} rows per hook, "
            f"hooks {self.hooks})"
        )
