"""`StudyResult`: a study's tidy table and the summaries a researcher reads first."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hooked_audio.study.sites import SITE_KEYS, site_labels
from hooked_audio.study.spec import StudySpec

#: bootstrap resamples for the 95% intervals over pairs
N_BOOTSTRAP = 2000


def bootstrap_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of `values` (NaN when fewer than 2)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(N_BOOTSTRAP, len(values)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


@dataclass
class StudyResult:
    """`rows`: one row per pair, direction, activation, layer and cell, with the cell's times
    (`start_s`, `end_s`, and relative to the changed word's onset `rel_start_s`,
    `rel_end_s`), the patched head (`head`, NaN where a whole layer's activation is patched),
    its label (the word), the metric `value` and `normalised` recovery (0 =
    corrupt run, 1 = clean run, in either direction), whether the value is an `exact` patch
    or an estimate, and `n_cells`: how many cells the row patched together (1, except for the
    windows an adaptive study left whole). `skipped`: pairs left out, and why. `time_axis`:
    the time-axis check of each pair whose word times are the model's estimate
    (`hooked_audio.study.time_axis_study`), one row per pair and direction. `grounding`: an
    audio LM's grounding coefficients (`hooked_audio.study.run.grounding_rows`), one row per
    pair, direction and language-model layer; empty for other families."""

    rows: pd.DataFrame
    skipped: list[dict]
    spec: StudySpec
    time_axis: list[dict] = field(default_factory=list)
    grounding: list[dict] = field(default_factory=list)

    @classmethod
    def from_rows(
        cls,
        rows: list[dict],
        skipped: list[dict],
        spec: StudySpec,
        time_axis: list[dict] | None = None,
        grounding: list[dict] | None = None,
    ) -> StudyResult:
        frame = pd.DataFrame(rows)
        if len(frame) and "head" not in frame:  # rows of a study without head acts
            frame["head"] = float("nan")
        if len(frame):
            frame["head"] = frame["head"].astype(float)
        if len(frame) and "exact" not in frame:  # rows written before estimates existed
            frame["exact"] = True
        if len(frame) and "n_cells" not in frame:  # ... before adaptive maps existed
            frame["n_cells"] = 1
        return cls(frame, list(skipped), spec, list(time_axis or []), list(grounding or []))

    @property
    def pairs(self) -> list[str]:
        return sorted(self.rows["pair"].unique()) if len(self.rows) else []

    def grounding_summary(self) -> pd.DataFrame:
        """Per direction and language-model layer: the mean grounding coefficient over the
        pairs where it is defined (`n_pairs` of them), with its 95% bootstrap interval, and the
        mean audio and text effects over every pair. Empty for a family without grounding."""
        frame = pd.DataFrame(self.grounding)
        if not len(frame):
            return pd.DataFrame()
        out = []
        for (direction, layer), group in frame.groupby(["direction", "layer"], sort=True):
            defined = group["grounding"].dropna().to_numpy(dtype=float)
            low, high = bootstrap_interval(defined)
            out.append(
                {
                    "direction": direction,
                    "layer": int(layer),
                    "grounding": defined.mean() if len(defined) else float("nan"),
                    "ci_low": low,
                    "ci_high": high,
                    "n_pairs": len(defined),
                    "audio_effect": group["audio_effect"].mean(),
                    "text_effect": group["text_effect"].mean(),
                }
            )
        return pd.DataFrame(out)

    def in_changed_word(self) -> pd.Series:
        """Whether each row's cell centre lies in the changed word's span (cells are whole
        20 ms positions, so a neighbouring word's cell may overlap the span's edge)."""
        r = self.rows
        centre = (r["start_s"] + r["end_s"]) / 2
        return (centre >= r["onset_s"]) & (centre <= r["offset_s"])

    def word_summary(self) -> pd.DataFrame:
        """Per direction, activation, layer and head (`site`): mean recovery in the changed
        word's cells and in every other cell, with 95% bootstrap intervals over pairs.
        Denoising gives sufficiency (do these frames alone restore the answer?), noising
        necessity (does corrupting them alone break it?)."""
        r = self.rows.copy()
        r["in_word"] = self.in_changed_word()
        per_pair = (
            r.groupby(["direction", "act", *SITE_KEYS, "in_word", "pair"], dropna=False)[
                "normalised"
            ]
            .mean()
            .reset_index()
        )
        out = []
        for (direction, act, layer, head, in_word), group in per_pair.groupby(
            ["direction", "act", *SITE_KEYS, "in_word"], dropna=False
        ):
            low, high = bootstrap_interval(group["normalised"].to_numpy())
            out.append(
                {
                    "direction": direction,
                    "act": act,
                    "layer": layer,
                    "head": head,
                    "cells": "changed word" if in_word else "other words",
                    "mean": group["normalised"].mean(),
                    "ci_low": low,
                    "ci_high": high,
                    "n_pairs": len(group),
                }
            )
        return _with_sites(pd.DataFrame(out))

    def onset_curves(self, bin_s: float = 0.1) -> pd.DataFrame:
        """Recovery against time relative to the changed word's onset: each cell's centre
        binned every `bin_s` seconds, averaged within a pair, then the mean and 95% bootstrap
        interval over pairs per direction, activation, layer, head (`site`) and bin."""
        if not bin_s > 0:
            raise ValueError(f"bin_s must be positive, got {bin_s}.")
        r = self.rows.copy()
        centre = (r["rel_start_s"] + r["rel_end_s"]) / 2
        r["bin_s"] = np.floor(centre / bin_s) * bin_s
        per_pair = (
            r.groupby(["direction", "act", *SITE_KEYS, "bin_s", "pair"], dropna=False)["normalised"]
            .mean()
            .reset_index()
        )
        out = []
        keys_names = ["direction", "act", *SITE_KEYS, "bin_s"]
        for keys, group in per_pair.groupby(keys_names, dropna=False):
            low, high = bootstrap_interval(group["normalised"].to_numpy())
            out.append(
                dict(
                    zip(keys_names, keys),
                    mean=group["normalised"].mean(),
                    ci_low=low,
                    ci_high=high,
                    n_pairs=len(group),
                )
            )
        return _with_sites(pd.DataFrame(out))

    def plot_pair(self, pair, act: str | None = None, mel=None):
        """One pair's sites x time map per direction under its log-mel (a matplotlib figure;
        `hooked_audio.study.figures.pair_map_figure`)."""
        from hooked_audio.study.figures import pair_map_figure

        return pair_map_figure(self, pair, act=act, mel=mel)

    def plot_onsets(self, act: str | None = None, bin_s: float = 0.1):
        """Recovery against time from the changed word's onset, denoising beside noising (a
        matplotlib figure; `hooked_audio.study.figures.onset_figure`)."""
        from hooked_audio.study.figures import onset_figure

        return onset_figure(self, act=act, bin_s=bin_s)


def _with_sites(summary: pd.DataFrame) -> pd.DataFrame:
    if len(summary):
        summary["site"] = site_labels(summary)
    return summary
