"""`SweepResult`: a patching sweep's values with their axes, labels, time and plot."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.patching.directions import Direction


@dataclass
class SweepResult:
    """`values[layer_index, cell_index]`: the metric after patching that layer at that cell.

    `cells` are position groups (one position, or a window); `cell_labels` name them
    (a token string, or a time span); `cell_seconds` gives `(start, end)` in seconds for
    encoder frames (None on the decoder side). `clean_value` / `corrupt_value` are the
    metric on the unpatched runs, for normalisation.
    """

    values: Float[Tensor, "layer cell"]
    layers: list[int]
    cells: list[list[int]]
    cell_labels: list[str]
    act: str
    direction: Direction
    clean_value: float
    corrupt_value: float
    cell_seconds: list[tuple[float, float]] | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.layers), len(self.cells))
        if tuple(self.values.shape) != shape:
            raise ValueError(
                f"values have shape {tuple(self.values.shape)}, expected {shape} (layers x cells)."
            )
        if len(self.cell_labels) != len(self.cells):
            raise ValueError(f"{len(self.cells)} cells but {len(self.cell_labels)} labels.")
        if self.cell_seconds is not None and len(self.cell_seconds) != len(self.cells):
            raise ValueError(f"{len(self.cells)} cells but {len(self.cell_seconds)} time spans.")

    def normalised(self) -> Float[Tensor, "layer cell"]:
        """0 = the corrupt run's metric, 1 = the clean run's (in either direction).

        Raises where recovery is undefined: a clean-corrupt gap below 1e-6 (the corruption
        does not move the metric) or a NaN reference (e.g. a head sweep given no
        `reference_values`)."""
        from hooked_audio.metrics.recovery import normalised_recovery

        return normalised_recovery(
            self.values, torch.tensor(self.clean_value), torch.tensor(self.corrupt_value)
        )

    def item(self) -> float:
        """The value of a one-cell result (`direct_path`, `audio_to_cross_heads`)."""
        if self.values.numel() != 1:
            raise ValueError(
                f"item() needs a one-cell result; this one has "
                f"{tuple(self.values.shape)} (layers x cells)."
            )
        return float(self.values.reshape(()))

    def to_dataframe(self):
        """Long format: one row per (layer, cell) with labels and times, for pandas users."""
        import pandas as pd

        rows = []
        for li, layer in enumerate(self.layers):
            for ci, label in enumerate(self.cell_labels):
                row = {
                    "layer": layer,
                    "cell": ci,
                    "label": label,
                    "value": float(self.values[li, ci]),
                }
                if self.cell_seconds is not None:
                    row["start_s"], row["end_s"] = self.cell_seconds[ci]
                rows.append(row)
        return pd.DataFrame(rows)

    def plot(self, normalised: bool = True, ax=None, title: str | None = None):
        """Heatmap of layers x cells, the time axis in seconds on the encoder side."""
        import matplotlib.pyplot as plt

        data = self.normalised() if normalised else self.values
        if ax is None:
            _, ax = plt.subplots(
                figsize=(max(6, min(14, 2 + 0.08 * len(self.cells))), 1.5 + 0.4 * len(self.layers))
            )
        extent = None
        if self.cell_seconds is not None:
            extent = (
                self.cell_seconds[0][0],
                self.cell_seconds[-1][1],
                len(self.layers) - 0.5,
                -0.5,
            )
        image = ax.imshow(
            data.detach().cpu().numpy(),
            aspect="auto",
            cmap="RdBu_r",
            vmin=-1 if normalised else None,
            vmax=1 if normalised else None,
            extent=extent,
            interpolation="nearest",
        )
        ax.set_yticks(range(len(self.layers)), [str(l) for l in self.layers])
        ax.set_ylabel("layer")
        if self.cell_seconds is not None:
            ax.set_xlabel("time (s)")
        else:
            ax.set_xticks(range(len(self.cell_labels)), self.cell_labels, rotation=90)
        ax.set_title(
            title or f"{self.direction} {self.act}" + (" (normalised)" if normalised else "")
        )
        ax.figure.colorbar(image, ax=ax, label="recovery" if normalised else "metric")
        return ax
