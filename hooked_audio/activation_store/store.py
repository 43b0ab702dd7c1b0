"""`ActivationStore`: a folder `write_activations` wrote, read back memory-mapped.

Every hook's rows are Arrow IPC files opened with `pyarrow.memory_map`, so `table` and `array`
do not read the activations into memory until they are used (a single clip's `array` is a
view of the file; several clips' are concatenated)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hooked_audio.activation_store.layout import CLIPS, FORMAT, MANIFEST, shard_path
from hooked_audio.patching.checks import check_count


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

    def features(self, hook: str) -> int:
        """How many features each of `hook`'s rows has (a per-head hook's are flattened)."""
        return int(self.manifest["features"][self._hook(hook)])

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

    def batches(
        self,
        hook: str,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        clips=None,
        clips_in_memory: int = 16,
    ) -> Iterator[np.ndarray]:
        """`[batch_size, features]` float32 batches of `hook`'s rows, every row once (the last
        batch shorter), for training probes or SAEs. Shuffled: the clips in a random order,
        `clips_in_memory` at a time, their rows shuffled together, so memory holds that many
        clips' rows however large the store (a bounded shuffle, as streaming trainers do;
        raise `clips_in_memory` to mix more). `shuffle=False` keeps the stored order."""
        hook = self._hook(hook)
        check_count(batch_size, "batch_size")
        check_count(clips_in_memory, "clips_in_memory")
        order = self._clips(clips)
        rng = np.random.default_rng(seed)
        if shuffle:
            order = [order[i] for i in rng.permutation(len(order))]
        carry = np.zeros((0, self.manifest["features"][hook]), np.float32)
        for first in range(0, len(order), clips_in_memory):
            rows = np.concatenate([carry, self.array(hook, order[first : first + clips_in_memory])])
            if shuffle:
                rows = rows[rng.permutation(len(rows))]
            whole = len(rows) - len(rows) % batch_size
            for start in range(0, whole, batch_size):
                yield rows[start : start + batch_size]
            carry = rows[whole:]
        if len(carry):
            yield carry

    def __repr__(self) -> str:
        return (
            f"ActivationStore({str(self.directory)!r}: {len(self.clips)} clips, "
            f"{int(self.clip_info['rows'].sum()) if len(self.clip_info) else 0} rows per hook, "
            f"hooks {self.hooks})"
        )
