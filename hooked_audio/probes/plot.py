"""The probe results as a figure: held-out score per layer, one line per hook site, the
clip-bootstrap interval as a band, the chance level as a dashed line."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

METRICS = {"accuracy": "chance_accuracy", "balanced_accuracy": "chance_balanced"}


def plot_probe_results(results, metric: str = "accuracy", ax=None):
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}.")
    table = results.table
    if ax is None:
        figure = Figure(figsize=(6.4, 4))  # no pyplot: nothing is left open in a loop
        ax = figure.add_subplot()
    figure = ax.figure
    # hooks outside the blocks (no layer) get their own ticks left of layer 0
    outside = [hook for hook, layer in zip(table["hook"], table["layer"]) if pd.isna(layer)]
    left_of_zero = {hook: -1.0 - i for i, hook in enumerate(reversed(outside))}
    x = np.array(
        [
            left_of_zero[hook] if pd.isna(layer) else float(layer)
            for hook, layer in zip(table["hook"], table["layer"])
        ]
    )
    for site in dict.fromkeys(table["site"]):
        rows = (table["site"] == site).to_numpy()
        order = np.argsort(x[rows])
        xs = x[rows][order]
        part = table[rows].iloc[order]
        line = ax.plot(xs, part[metric], marker="o", label=site)[0]
        ax.fill_between(
            xs, part[f"{metric}_low"], part[f"{metric}_high"], color=line.get_color(), alpha=0.2
        )
    chance = table[METRICS[metric]]
    ticks = np.unique(x)
    if chance.nunique() == 1:
        ax.axhline(float(chance.iloc[0]), color="grey", linestyle="--", label="chance")
    else:  # held-out rows differ per hook (cannot happen with one store; drawn per point)
        ax.plot(x, chance, color="grey", linestyle="--", marker="_", label="chance")
    names = {int(x): hook for hook, x in left_of_zero.items()}
    ax.set_xticks(ticks, [names.get(int(t), str(int(t))) for t in ticks])
    ax.set_xlabel("layer")
    ax.set_ylabel(f"held-out {metric.replace('_', ' ')}")
    ax.set_ylim(0, 1.02)
    n_folds, n_clips = len(results.folds), int(table["clips"].max())
    ax.set_title(
        f"Probe: {results.name} ({', '.join(results.classes[:4])}"
        f"{', ...' if len(results.classes) > 4 else ''}); {n_clips} clips, {n_folds} folds, "
        f"{results.confidence:.0%} clip-bootstrap CI",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    return figure
