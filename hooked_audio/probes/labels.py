"""`ProbeLabels`: one label per stored row of an activation store (or none, for a row the probe
leaves out), with the rows' clip and time kept beside them, so labels built for one store (or
one order of its clips) are refused on another instead of silently pairing the wrong rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ProbeLabels:
    """`values[i]`: the label (a string) of the store's row `i`, or None for a row left out;
    `clip[i]` and `time_s[i]`: that row's clip and time, as the store listed them when the
    labels were built; `name`: what is probed (the figure's title, e.g. "speech")."""

    name: str
    values: np.ndarray  # [rows] object: str or None
    clip: np.ndarray  # [rows] object: str
    time_s: np.ndarray  # [rows] float64

    def __post_init__(self):
        n = {len(self.values), len(self.clip), len(self.time_s)}
        if len(n) != 1:
            raise ValueError(
                f"ProbeLabels {self.name!r}: values, clip and time_s must have one entry per "
                f"row; got {len(self.values)}, {len(self.clip)} and {len(self.time_s)}."
            )

    @classmethod
    def from_rows(cls, name: str, rows: pd.DataFrame, values) -> ProbeLabels:
        """Labels for `rows` (a store's `frame(hook)`): `values` one per row, None/NaN = left
        out; every other value is turned into a string (a class name)."""
        values = list(values)
        if len(values) != len(rows):
            raise ValueError(
                f"{len(rows)} stored rows but {len(values)} labels for {name!r}: give one label "
                "per row of store.frame(hook), None for a row to leave out."
            )
        labels = np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)
        return cls(
            name,
            labels,
            rows["clip"].to_numpy(dtype=object),
            rows["time_s"].to_numpy(dtype=np.float64),
        )

    @property
    def labelled(self) -> np.ndarray:
        """`[rows]` bool: the rows that have a label."""
        return np.array([v is not None for v in self.values], dtype=bool)

    @property
    def classes(self) -> list[str]:
        return sorted({v for v in self.values if v is not None})

    def counts(self) -> pd.Series:
        """Rows per class (the labelled rows)."""
        return pd.Series(self.values[self.labelled]).value_counts().sort_index()

    def check_rows(self, rows: pd.DataFrame, hook: str) -> None:
        """A ValueError unless these labels were built for exactly `rows` (a store's
        `frame(hook)`): the same number of rows, the same clip and time on each."""
        if len(rows) != len(self.values):
            raise ValueError(
                f"Labels {self.name!r} have {len(self.values)} rows, but the store holds "
                f"{len(rows)} rows of {hook}: they were built for another store (or other "
                "clips). Build the labels from this store."
            )
        clips = rows["clip"].to_numpy(dtype=object)
        times = rows["time_s"].to_numpy(dtype=np.float64)
        wrong = np.flatnonzero((clips != self.clip) | ~np.isclose(times, self.time_s, atol=1e-6))
        if len(wrong):
            i = int(wrong[0])
            raise ValueError(
                f"Labels {self.name!r} are not aligned with the stored rows of {hook}: row {i} is "
                f"clip {clips[i]!r} at {times[i]:.2f} s in the store, but clip {self.clip[i]!r} "
                f"at {self.time_s[i]:.2f} s in the labels ({len(wrong)} rows differ). Build the "
                "labels from this store's frame(hook), in its row order."
            )

    @classmethod
    def for_rows(cls, labels, rows: pd.DataFrame, hook: str) -> ProbeLabels:
        """`labels` (`ProbeLabels`, or one label per row of `rows`, None/NaN for a row left
        out) as `ProbeLabels` checked against `rows` (a store's `frame(hook)`)."""
        if not isinstance(labels, ProbeLabels):
            if isinstance(labels, str) or not hasattr(labels, "__len__"):
                raise TypeError(
                    "labels must be ProbeLabels or one label per stored row (a list, array or "
                    f"Series), got {type(labels).__name__}."
                )
            labels = cls.from_rows("label", rows, labels)
        labels.check_rows(rows, hook)
        return labels

    def check_classes(self) -> None:
        """A ValueError unless at least two classes have labelled rows."""
        classes = self.classes
        if len(classes) < 2:
            found = f"only {classes[0]!r}" if classes else "no labelled row at all"
            raise ValueError(
                f"Probe label {self.name!r} is constant ({found}): a probe needs at least two "
                "classes. Add clips with rows of another class (for speech vs non-speech: "
                "noise or silence clips)."
            )
