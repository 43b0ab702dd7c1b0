"""A layer x layer CKA matrix as a heatmap, rows and columns labelled from the table.

Row `i` is drawn at y = `i` (the first layer at the top), column `j` at x = `j`; the colour
scale runs from min(0, smallest value) to 1 (debiased CKA can dip below 0), and with
`annotate` each cell carries its value to two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CKA_LABEL = "CKA"


@dataclass
class CKAHeatmap:
    """What `plot_cka_heatmap` drew: the image on `ax` and the cell annotations (row-major)."""

    ax: object
    image: object
    annotations: list


def plot_cka_heatmap(
    values,
    row_name: str,
    column_name: str,
    title: str | None = None,
    ax=None,
    annotate: bool = True,
) -> CKAHeatmap:
    """Draw `values` (a DataFrame: index = row layers, columns = column layers)."""
    import matplotlib.pyplot as plt

    data = values.to_numpy(dtype=float)
    if data.ndim != 2 or 0 in data.shape:
        raise ValueError(f"Expected a non-empty layer x layer table, got shape {data.shape}.")
    n_rows, n_columns = data.shape
    if ax is None:
        size = (max(4.0, 1.6 + 0.55 * n_columns), max(3.4, 1.4 + 0.5 * n_rows))
        _, ax = plt.subplots(figsize=size, constrained_layout=True)
    low = min(0.0, float(np.nanmin(data))) if np.isfinite(data).any() else 0.0
    image = ax.imshow(data, cmap="viridis", vmin=low, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(n_columns), [str(c) for c in values.columns])
    ax.set_yticks(range(n_rows), [str(r) for r in values.index])
    ax.set_xlabel(column_name)
    ax.set_ylabel(row_name)
    ax.figure.colorbar(image, ax=ax, label=CKA_LABEL)
    annotations = []
    if annotate:
        middle = (low + 1.0) / 2
        for i in range(n_rows):
            for j in range(n_columns):
                colour = "black" if data[i, j] > middle else "white"
                annotations.append(
                    ax.text(
                        j,
                        i,
                        f"{data[i, j]:.2f}",
                        ha="center",
                        va="center",
                        color=colour,
                        fontsize=8,
                    )
                )
    if title:
        ax.set_title(title)
    return CKAHeatmap(ax, image, annotations)
