"""Activations for training SAEs: endless, shuffled batches of one hook's rows, bounded in
memory, in the form SAELens's `SAETrainer` takes as its data provider (an iterator of
`[batch, d_in]` tensors).

Two sources, one row per position:

- `ActivationBatches.from_store(store, hook, ...)`: a folder `write_activations` wrote (a 20 ms
  encoder frame per row). Cheap epochs: the store is read memory-mapped, `clips_in_memory`
  clips at a time.
- `ActivationBatches.from_clips(source, clips, hook, ...)`: run the model on the clips as
  training goes. Nothing is written; each epoch runs the model again. `source` says which
  positions are rows: `WhisperEncoderSource(model)` (20 ms frames), `WhisperDecoderSource(model)`
  (the tokens of each clip's own transcript), `AudioLMSource(model, prompt)` (an audio LM's
  audio or text positions). `clips` may be a list, a folder's clips, `clips_from_dataset(...)`
  over a Hugging Face `datasets` audio column, or a callable returning a fresh iterable per
  epoch.

Padding is left out by default: Whisper encodes every clip as a 30 s window, so a 3 s clip has
150 positions of audio and 1350 of padding, whose activations are nearly the same in every clip
and would otherwise make up most of the training data. `padding=True` keeps them (an SAE meant
to run on padded windows as well).

Every batch has exactly `batch_size` rows: epochs follow each other without a gap (the rows left
over at the end of one epoch open the next), as SAELens counts samples by whole batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from hooked_audio.activation_store.store import ActivationStore
from hooked_audio.checks import check_count


class ActivationBatches:
    """An endless iterator of `[batch_size, d_in]` float32 tensors (module docstring).
    `d_in` is the hook's feature count; `epoch` counts finished passes over the data. Built by
    `from_store` / `from_clips`, or directly from `epochs(k)`, a function yielding arrays of
    rows (`[n, d_in]` float32, in the order to train on) for pass `k` over any other data."""

    def __init__(self, epochs: Callable[[int], Iterator[np.ndarray]], batch_size: int, d_in: int):
        self._epochs = epochs
        self.batch_size = check_count(batch_size, "batch_size")
        self.d_in = d_in
        self.epoch = 0
        self._iterator = self._batches()

    def __iter__(self) -> Iterator[Tensor]:
        return self

    def __next__(self) -> Tensor:
        return next(self._iterator)

    def _batches(self) -> Iterator[Tensor]:
        carry = np.zeros((0, self.d_in), np.float32)
        while True:
            rows_this_epoch = 0
            for chunk in self._epochs(self.epoch):
                rows_this_epoch += len(chunk)
                rows = np.concatenate([carry, chunk]) if len(carry) else chunk
                whole = len(rows) - len(rows) % self.batch_size
                for start in range(0, whole, self.batch_size):
                    yield torch.from_numpy(
                        np.ascontiguousarray(rows[start : start + self.batch_size])
                    )
                carry = rows[whole:]
            if rows_this_epoch == 0:
                raise ValueError(
                    "The activation source gave no rows: no clip, or only empty clips."
                )
            self.epoch += 1

    # ------------------------------------------------------------------ sources
    @classmethod
    def from_store(
        cls,
        store: ActivationStore | str,
        hook: str,
        batch_size: int = 4096,
        seed: int = 0,
        clips_in_memory: int = 16,
        clips: list[str] | None = None,
    ) -> ActivationBatches:
        """Batches of `hook`'s rows in an activation store, every epoch in a new shuffled
        order (`ActivationStore.batches`, seeded `seed + epoch`)."""
        store = store if isinstance(store, ActivationStore) else ActivationStore(store)
        d_in = store.features(hook)
        check_count(batch_size, "batch_size")

        def epoch(k: int) -> Iterator[np.ndarray]:
            return store.batches(
                hook, batch_size, seed=seed + k, clips=clips, clips_in_memory=clips_in_memory
            )

        return cls(epoch, batch_size, d_in)

    @classmethod
    def from_clips(
        cls,
        source: Any,
        clips: Iterable | Callable[[], Iterable],
        hook: str,
        batch_size: int = 4096,
        seed: int = 0,
        buffer_rows: int = 65536,
        per_forward: int = 8,
        padding: bool = False,
    ) -> ActivationBatches:
        """Batches of `hook`'s rows computed from `clips` as they are needed. Rows go into a
        buffer of `buffer_rows`; when it is full it is shuffled and half of it is handed out,
        so rows of about `buffer_rows / rows per clip` clips are mixed (raise it to mix
        more). `per_forward` windows (or clips) share one forward of `source`; `padding` keeps
        the positions that hold none of the clip (the source says which)."""
        source.check_hooks([hook])
        check_count(buffer_rows, "buffer_rows")
        check_count(per_forward, "per_forward")
        if buffer_rows < 2 * check_count(batch_size, "batch_size"):
            raise ValueError(
                f"buffer_rows={buffer_rows} must hold at least two batches "
                f"({2 * batch_size} rows) to shuffle them."
            )
        if not callable(clips) and iter(clips) is clips:
            raise TypeError(
                "clips is a one-pass iterator, but training reads the clips once per epoch: "
                "pass a list, clips_from_dataset(...), or a function returning a new iterable."
            )

        def epoch(k: int) -> Iterator[np.ndarray]:
            rng = np.random.default_rng(seed + k)
            buffer: list[np.ndarray] = []
            held = 0
            this_epoch = clips() if callable(clips) else clips
            for rows in source.rows(this_epoch, [hook], per_forward, padding):
                buffer.append(rows.values[hook])
                held += len(rows.values[hook])
                if held >= buffer_rows:
                    mixed = np.concatenate(buffer)
                    mixed = mixed[rng.permutation(len(mixed))]
                    half = len(mixed) // 2
                    yield mixed[:half]
                    buffer, held = [mixed[half:]], len(mixed) - half
            if buffer:
                rest = np.concatenate(buffer)
                yield rest[rng.permutation(len(rest))]

        return cls(epoch, batch_size, source.features(hook))
