"""`AblationResult`: an ablation study's rows (one per unit and clip) and what they say: each
site's change of the metric against the baseline (`summary`), the sites that change it most
(`top`), and a figure of the changes per layer and head (`plot`)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hooked_audio.ablation_study.spec import AblationSpec
from hooked_audio.ablation_study.worker import BASELINE
from hooked_audio.checks import check_count

#: how each metric sums over clips: rates are means over clips; error rates pool the edits
#: of every clip over every clip's reference length (corpus WER / CER, as jiwer computes it)
POOLED = {"wer": ("word_errors", "ref_words"), "cer": ("char_errors", "ref_chars")}

#: the metric that orders sites whose change of the study's metric is the same: a rate over a
#: few clips ties often (on tiny.en most single heads leave hallucination on 10 clips unchanged),
#: and a finer metric that moves the same way says which of them does more
TIE_BREAKERS = {
    "hallucination": "words_per_second",
    "words_per_second": "hallucination",
    "repetition": "words_per_second",
    "wer": "cer",
    "cer": "wer",
}


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
        its change from the baseline (`delta`), the relative change (`relative`, NaN when the
        baseline is 0) and the change of the tie-breaking metric (`TIE_BREAKERS`; column
        `<metric>_delta`); most negative `delta` first (the sites whose ablation lowers the
        metric most: for hallucination, the heads behind it), equal `delta`s ordered by the
        tie-breaker's change, then by site order."""
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
        tie = self.tie_breaker
        tie_values = self.unit_metric(tie)
        table[f"{tie}_delta"] = table.index.map(tie_values) - tie_values[BASELINE]
        return table.sort_values(["delta", f"{tie}_delta"], kind="stable")

    @property
    def tie_breaker(self) -> str:
        """The metric that orders sites with the same change of the study's metric."""
        return TIE_BREAKERS[self.spec.metric]

    def top(self, k: int = 3) -> pd.DataFrame:
        """The `k` sites whose ablation lowers the metric most (ties broken as `summary`
        says). Warns when the `k`-th site and the next tie on both metrics: which of them
        are in the top `k` is then site order, not measurement."""
        check_count(k, "k (how many sites)")
        table = self.summary()
        keys = ["delta", f"{self.tie_breaker}_delta"]
        if len(table) > k and table.iloc[k - 1][keys].equals(table.iloc[k][keys]):
            tied = table[(table[keys] == table.iloc[k - 1][keys]).all(axis=1)]
            warnings.warn(
                f"{len(tied)} sites ({', '.join(tied.index[:6])}"
                f"{', ...' if len(tied) > 6 else ''}) tie for place {k} on both "
                f"{self.spec.metric} and {self.tie_breaker}: the top {k} takes them in site "
                "order. More clips separate them.",
                stacklevel=2,
            )
        return table.head(k)

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
