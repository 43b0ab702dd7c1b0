"""`AblationResult`: an ablation study's rows (one per unit and clip) and what they say: each
site's change of the metric against the baseline (`summary`), the sites that change it most
(`top`), and a figure of the changes per layer and head (`plot`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hooked_audio.ablation_study.spec import AblationSpec
from hooked_audio.ablation_study.worker import BASELINE

#: how each metric sums over clips: rates are means over clips; error rates pool the edits
#: of every clip over every clip's reference length (corpus WER / CER, as jiwer computes it)
POOLED = {"wer": ("word_errors", "ref_words"), "cer": ("char_errors", "ref_chars")}


@dataclass
class AblationResult:
    rows: pd.DataFrame
    spec: AblationSpec

    @classmethod
    def from_rows(cls, rows: list[dict], spec: AblationSpec) -> AblationResult:
        return cls(pd.DataFrame(rows), spec)

    def unit_metric(self, metric: str | None = None) -> pd.Series:
        """The metric of every unit over all clips (index: unit)."""
        metric = metric or self.spec.metric
        if metric in POOLED:
            errors, length = POOLED[metric]
            sums = self.rows.groupby("unit")[[errors, length]].sum()
            return (sums[errors] / sums[length].where(sums[length] > 0)).rename(metric)
        return self.rows.groupby("unit")[metric].mean()

    @property
    def baseline(self) -> float:
        values = self.unit_metric()
        if BASELINE not in values.index:
            raise ValueError("The study has no baseline unit (nothing ablated) to compare with.")
        return float(values[BASELINE])

    def summary(self) -> pd.DataFrame:
        """One row per ablated site: component, layer, head, the metric with the site ablated,
        its change from the baseline (`delta`) and the relative change (`relative`, NaN when
        the baseline is 0), most negative `delta` first (the sites whose ablation lowers the
        metric most: for hallucination, the heads behind it)."""
        values = self.unit_metric()
        sites = (
            self.rows[self.rows.unit != BASELINE]
            .drop_duplicates("unit")
            .set_index("unit")[["component", "layer", "head"]]
        )
        sites = sites.astype({"layer": "Int64", "head": "Int64"})  # a MLP site has no head
        table = sites.join(values.rename(self.spec.metric))
        base = self.baseline
        table["delta"] = table[self.spec.metric] - base
        table["relative"] = table["delta"] / base if base else math.nan
        return table.sort_values("delta", kind="stable")

    def top(self, k: int = 3) -> pd.DataFrame:
        """The `k` sites whose ablation lowers the metric most."""
        return self.summary().head(k)

    def plot(self) -> Figure:
        """Per component, a layer x head grid (one column for a component without heads) of
        each site's change of the metric from the baseline, in colour and in figures."""
        table = self.summary()
        components = list(dict.fromkeys(table["component"]))
        fig, axes = plt.subplots(
            1, len(components), figsize=(max(5.5, 4.5 * len(components)), 4), squeeze=False
        )
        limit = float(np.nanmax(np.abs(table["delta"].to_numpy()))) or 1.0
        for ax, component in zip(axes[0], components, strict=True):
            part = table[table["component"] == component]
            heads = part["head"].dropna().astype(int)
            layers = sorted(part["layer"].astype(int).unique())
            n_cols = int(heads.max()) + 1 if len(heads) else 1
            grid = np.full((len(layers), n_cols), np.nan)
            for _, row in part.iterrows():
                col = 0 if pd.isna(row["head"]) else int(row["head"])
                grid[layers.index(int(row["layer"])), col] = row["delta"]
            image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
            for (i, j), value in np.ndenumerate(grid):
                if not np.isnan(value):
                    ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7)
            ax.set_yticks(range(len(layers)), [str(layer) for layer in layers])
            ax.set_xticks(range(n_cols), [str(h) for h in range(n_cols)] if len(heads) else [""])
            ax.set_xlabel("head" if len(heads) else "")
            ax.set_ylabel("layer")
            ax.set_title(component)
            fig.colorbar(image, ax=ax, label=f"{self.spec.metric} change")
        fig.suptitle(
            f"{self.spec.ablation} ablation, one site at a time:\nchange of {self.spec.metric} "
            f"from {self.baseline:.3g} (nothing ablated)",
            fontsize=10,
        )
        fig.tight_layout()
        return fig
