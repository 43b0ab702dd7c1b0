"""`ActivationStore`: a folder `write_activations` wrote, read back memory-mapped.

Every hook's rows are Arrow IPC files opened with `pyarrow.memory_map`, so `table` and `array`
do not read the activations into memory until they are used (a single clip's `array` is a
view of the file; several clips' are concatenated)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from hooked_audio.activation_store.layout import (
    CLIPS,
    FORMAT,
    MANIFEST,
    check_hook_name,
    schema,
    shard_path,
)
from hooked_audio.checks import check_count
from hooked_audio.safe_files import inside, read_json, read_jsonl


class ActivationStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        manifest = inside(self.directory, MANIFEST)  # a link planted there is refused
        if not manifest.is_file():
            raise FileNotFoundError(
                f"{str(self.directory)!r} holds no {MANIFEST}: not an activation store "
                "(write one with hooked_audio.activation_store.write_activations)."
            )
        self.manifest = read_json(manifest, "the activation store's manifest")
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            found = self.manifest.get("format") if isinstance(self.manifest, dict) else None
            raise ValueError(f"{manifest} is format {found!r}; this version reads format {FORMAT}.")
        self.hooks: list[str] = [check_hook_name(h) for h in self.manifest.get("hooks", [])]
        done = inside(self.directory, CLIPS)
        entries = [entry for _, entry in read_jsonl(done)] if done.exists() else []
        if not all(isinstance(e, dict) and {"id", "rows"} <= e.keys() for e in entries):
            raise ValueError(f"{done}: a line is not a finished clip (id, seconds, rows).")
        self.clip_info = pd.DataFrame(entries, columns=["id", "seconds", "windows", "rows"])

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
        tables = [self._clip_table(hook, c) for c in self._clips(clips)]
        if not tables:
            raise ValueError(f"{str(self.directory)!r} has no finished clip yet.")
        return pa.concat_tables(tables)

    def _clip_table(self, hook: str, clip: str) -> pa.Table:
        """One clip's rows of `hook`, checked against clips.jsonl: the file must be a real
        Arrow file inside the store, hold that many rows, all of that clip, with the store's
        feature size (a damaged or swapped file is an error, never another clip's rows)."""
        path = inside(
            self.directory, shard_path(self.directory, hook, clip).relative_to(self.directory)
        )
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing, but clips.jsonl lists clip {clip!r} as finished: the store "
                "is incomplete. Delete that clip's line from clips.jsonl to write it again."
            )
        try:
            table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        except (pa.ArrowInvalid, OSError) as error:
            raise ValueError(
                f"{path} is not a readable Arrow file ({error}): damaged or truncated. Delete it "
                f"and clip {clip!r}'s line in clips.jsonl to write it again."
            ) from None
        expected = int(self.clip_info.loc[self.clip_info["id"] == clip, "rows"].iloc[0])
        d = self.features(hook)
        wrong = []
        if table.schema != schema(d):
            wrong.append(f"its columns are {table.schema.names} / not {d} features per row")
        elif table.num_rows != expected:
            wrong.append(f"it has {table.num_rows} rows, clips.jsonl says {expected}")
        elif table.num_rows and set(table.column("clip").unique().to_pylist()) != {clip}:
            others = sorted(set(table.column("clip").unique().to_pylist()) - {clip})
            wrong.append(f"it holds rows of clip(s) {others}")
        if wrong:
            raise ValueError(
                f"{path} does not hold clip {clip!r}'s {hook} rows: {wrong[0]}. The file was "
                "replaced or damaged; delete it and the clip's line in clips.jsonl to write it "
                "again."
            )
        return table

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
