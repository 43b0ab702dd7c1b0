"""`SweepResult`: a patching sweep's values with their axes, labels, time and plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from hooked_audio.patching.directions import Direction


@dataclass
class SweepResult:
    """`values[layer_index, cell_index]`: the metric after patching that layer at that cell.

    `cells` are position groups (one position, or a window); `cell_labels` name them
    (a token string, or a time span); `cell_seconds` gives `(start, end)` in seconds for
    encoder frames (None on the decoder side). `clean_value` / `corrupt_value` are the
    metric on the unpatched runs, for normalisation. `exact[layer_index, cell_index]`, where
    given, says which values are exact patches and which estimates (`verify_top_cells`); None
    means all are of the kind `act` names. `row_name` says what `layers` hold: layers, or SAE
    feature ids in a feature sweep (`hooked_audio.patching.feature_sweep`).
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
    exact: Bool[Tensor, "layer cell"] | None = None
    #: what a row is: "layer", or "feature" for an SAE feature sweep (rows = feature ids)
    row_name: str = "layer"

    def __post_init__(self) -> None:
        shape = (len(self.layers), len(self.cells))
        if tuple(self.values.shape) != shape:
            raise ValueError(
                f"values have shape {tuple(self.values.shape)}, expected {shape} (layers x cells)."
            )
        if self.exact is not None and (
            tuple(self.exact.shape) != shape or self.exact.dtype != torch.bool
        ):
            raise ValueError(
                f"exact must be a bool tensor of shape {shape} (layers x cells), got "
                f"{self.exact.dtype} {tuple(self.exact.shape)}."
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

        device = self.values.device
        return torch.as_tensor(
            normalised_recovery(
                self.values,
                torch.tensor(self.clean_value, device=device),
                torch.tensor(self.corrupt_value, device=device),
            )
        )

    def item(self) -> float:
        """The value of a one-cell result (`direct_path`, `audio_to_cross_heads`)."""
        if self.values.numel() != 1:
            raise ValueError(
                f"item() needs a one-cell result; this one has "
                f"{tuple(self.values.shape)} (layers x cells)."
            )
        return float(self.values.reshape(()))

    def to_dataframe(self) -> Any:  # a pandas DataFrame (pandas is imported when called)
        """Long format: one row per (layer, cell) with labels and times, for pandas users (the
        first column is named by `row_name`: "layer", or "feature")."""
        import pandas as pd

        rows = []
        for li, layer in enumerate(self.layers):
            for ci, label in enumerate(self.cell_labels):
                row = {
                    self.row_name: layer,
                    "cell": ci,
                    "label": label,
                    "value": float(self.values[li, ci]),
                }
                if self.cell_seconds is not None:
                    row["start_s"], row["end_s"] = self.cell_seconds[ci]
                rows.append(row)
        return pd.DataFrame(rows)

    def plot(
        self,
        normalised: bool = True,
        ax: Any = None,
        title: str | None = None,
        *,
        metric_name: str | None = None,
        tokens: Sequence[str] | None = None,
        spectrogram: Float[Tensor, "*batch n_mels mel_frames"]
        | Float[Tensor, "*batch 2 n_mels pos"]
        | None = None,
        seconds_per_mel_frame: float = 0.01,
        time_span: tuple[float, float] | None = None,
        spectrogram_start_s: float = 0.0,
    ) -> Any:
        """Heatmap of layers x cells; returns its axes, or `(spectrogram axes, heatmap axes)`
        with `spectrogram=`.

        Cells in seconds are drawn at their true `(start, end)` on a "time (s)" axis (blank
        between cells; overlapping cells share the overlap in strips), word labels at their
        centres above, word edges as lines. Token cells are columns ticked with their labels,
        or with their token strings given `tokens=model.to_str_tokens(tokens)`.
        `metric_name` goes into the title (and names the scale when not `normalised`).
        `spectrogram`: the swept clip's log-mel (`model.to_mel(audio)` or `to_frames`),
        drawn above the heatmap on the same time axis, which spans the cells (or
        `time_span`); `spectrogram_start_s`: the time of its first frame (a window of a long
        recording, whose cells are in seconds of the recording). See `hooked_audio.plots`.
        """
        from hooked_audio.plots import plot_sweep

        return plot_sweep(
            self,
            normalised,
            ax,
            title,
            metric_name=metric_name,
            tokens=tokens,
            spectrogram=spectrogram,
            seconds_per_mel_frame=seconds_per_mel_frame,
            time_span=time_span,
            spectrogram_start_s=spectrogram_start_s,
        )
