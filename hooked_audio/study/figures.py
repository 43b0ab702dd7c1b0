"""A study's figures in matplotlib: what `StudyResult.plot_pair` / `plot_onsets` and
`plot_corruptions` return in a notebook, and what `hooked-audio study` saves as PNG.

- `pair_map_figure`: one pair's sites (layers, or layer-head) x time for one activation, each
  cell at its true time under the clean clip's log-mel, word edges marked; denoising above
  noising on the same time axis.
- `onset_figure`: recovery against time from the changed word's onset, mean over pairs with
  its 95% interval, one line per site; denoising beside noising.
- `corruption_figure`: minimal pairs against noise, peak recovery and sharpness per
  corruption and layer.

The interactive report (`report_figures`, plotly) draws the same data; these are the static
versions for papers and notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hooked_audio.constants import HOP_LENGTH
from hooked_audio.plots.spectrogram import as_log_mel, plot_log_mel
from hooked_audio.plots.sweep_figure import MEL_BOUNDARY_STYLE
from hooked_audio.plots.sweep_heatmap import draw_sweep_heatmap
from hooked_audio.study.sites import ordered_sites, site_labels

DIRECTION_TITLES = {
    "denoise": "denoise: clean frames into the corrupt run (sufficiency)",
    "noise": "noise: corrupt frames into the clean run (necessity)",
}
RECOVERY_AXIS = "recovery (0 = corrupt, 1 = clean)"


def metric_name(rows: pd.DataFrame) -> str:
    """The metric the rows' recoveries normalise, named from the data (rows written before
    studies named their metric are Whisper's logit differences)."""
    names = rows["metric"].dropna().unique() if "metric" in rows else []
    name = names[0] if len(names) == 1 else "logit diff"
    if rows["changed_word"].nunique() == 1:
        return f"{name} {rows['changed_word'].iloc[0]!r} - {rows['replacement'].iloc[0]!r}"
    return f"{name} clean word - replacement"


def pair_map_figure(result, pair, act: str | None = None, mel=None, n_mels: int = 80):
    """`pair`'s (a `MinimalPair` of the study, or its id with `mel` given) sites x time map for
    `act` (default: the study's first activation), one panel per direction under the clean
    clip's log-mel (`mel`, default: an `n_mels` Whisper log-mel of `pair.clean_audio`).
    A long recording's map shows its window of change, at its seconds of the recording (a
    `mel` given for it is that window's). Returns the figure."""
    import matplotlib.pyplot as plt

    pair_id = pair if isinstance(pair, str) else pair.id
    act = act or result.spec.acts[0]
    rows = result.rows
    if pair_id not in set(rows["pair"]):
        raise ValueError(
            f"Pair {pair_id!r} has no rows in this study; its pairs are {result.pairs} "
            f"(left out: {[skip['pair'] for skip in result.skipped]})."
        )
    rows = rows[(rows["pair"] == pair_id) & (rows["act"] == act)]
    if not len(rows):
        raise ValueError(f"The study patched no {act!r}; its acts are {list(result.spec.acts)}.")
    start_s, audio = _patched_audio(pair, rows)
    if mel is None:
        if audio is None:
            raise ValueError("Pass the MinimalPair itself, or its log-mel as mel=.")
        from hooked_audio.models.whisper.front_end import log_mel

        mel = log_mel([audio], n_mels=n_mels)[0]
    if audio is not None:  # the clip's own mel frames, not the window's padding
        mel = as_log_mel(mel)[:, : int(np.ceil(len(audio) / HOP_LENGTH))]
    directions = [d for d in ("denoise", "noise") if d in set(rows["direction"])]
    sites = ordered_sites(rows)
    cells, columns_of = _time_columns(rows)
    height = max(1.6, 0.3 * len(sites) + 1.0)
    fig, axes = plt.subplots(
        1 + len(directions),
        1,
        sharex=True,
        figsize=(10.0, 2.2 + height * len(directions)),
        height_ratios=[2.2] + [height] * len(directions),
        constrained_layout=True,
        squeeze=False,
    )
    axes = axes[:, 0]
    plot_log_mel(axes[0], mel, colorbar=True, start_s=start_s)
    boundaries: list[float] = []
    for ax, direction in zip(axes[1:], directions):
        part = rows[rows["direction"] == direction].copy()
        part["site"] = site_labels(part)
        values = np.full((len(sites), len(cells)), np.nan)  # a cell not patched stays NaN
        site_index = {site: i for i, site in enumerate(sites)}
        for site, (_, row) in zip(part["site"], part.iterrows()):
            values[site_index[site], columns_of(row)] = row["normalised"]
        drawn = draw_sweep_heatmap(
            ax,
            values,
            [site.removeprefix("layer ") for site in sites],
            list(cells["label"]),
            list(zip(cells["start_s"], cells["end_s"])),
            value_label="recovery",
            time_span=tuple(axes[0].images[0].get_extent()[:2]),
        )
        ax.set_ylabel("site" if rows["head"].notna().any() else "layer")
        ax.set_title(DIRECTION_TITLES[direction], fontsize=10)
        boundaries = drawn.boundaries
    for x in boundaries:
        axes[0].axvline(x, **MEL_BOUNDARY_STYLE)
    axes[0].set_xlabel("")
    changed = f"{rows['changed_word'].iloc[0]!r} -> {rows['replacement'].iloc[0]!r}"
    axes[0].set_title(f"{pair_id} ({changed}), {act}: recovery of {metric_name(rows)}")
    return fig


def _patched_audio(pair, rows: pd.DataFrame) -> tuple[float, np.ndarray | None]:
    """Where the patched part of the pair's recording starts (seconds) and its clean audio
    (None for a pair given by id): the window of change of a long recording, else the clip
    (also for rows of a study that predates the window columns)."""
    span = None
    if "window_start_s" in rows:
        known = rows.dropna(subset=["window_start_s", "window_end_s"])
        if len(known):
            span = float(known["window_start_s"].iloc[0]), float(known["window_end_s"].iloc[0])
    start = span[0] if span is not None else 0.0
    if isinstance(pair, str):
        return start, None
    audio = np.asarray(pair.clean_audio)
    if span is not None:
        rate = pair.clean_audio.sample_rate
        audio = audio[int(round(span[0] * rate)) : int(round(span[1] * rate))]
    return start, audio


def _time_columns(rows: pd.DataFrame):
    """The heatmap's columns and where each row goes: one column per cell; where rows cover
    several cells (an adaptive study's unsplit windows, `n_cells` > 1), the columns are the
    spans between all rows' boundaries, labelled where a single cell has that span, and a
    window row fills the columns it covers (the picture of its one exact value)."""
    if "n_cells" not in rows or (rows["n_cells"] == 1).all():
        cells = rows[["cell", "label", "start_s", "end_s"]].drop_duplicates().sort_values("cell")
        index = {cell: i for i, cell in enumerate(cells["cell"])}
        return cells, lambda row: index[row["cell"]]
    edges = np.unique(np.round(np.concatenate([rows["start_s"], rows["end_s"]]), 6))
    singles = rows[rows["n_cells"] == 1]
    label_of = {
        (round(a, 6), round(b, 6)): label
        for a, b, label in zip(singles["start_s"], singles["end_s"], singles["label"])
    }
    spans = list(zip(edges[:-1], edges[1:]))
    cells = pd.DataFrame(
        {
            "label": [label_of.get((a, b), "") for a, b in spans],
            "start_s": [a for a, _ in spans],
            "end_s": [b for _, b in spans],
        }
    )

    def columns_of(row) -> list[int]:
        start, end = round(row["start_s"], 6), round(row["end_s"], 6)
        return [i for i, (a, b) in enumerate(spans) if a >= start and b <= end]

    return cells, columns_of


def onset_figure(result, act: str | None = None, bin_s: float = 0.1):
    """Recovery against time from the changed word's onset (`StudyResult.onset_curves`), one
    line per site with its 95% interval over pairs, a panel per direction. Returns the
    figure."""
    import matplotlib.pyplot as plt

    act = act or result.spec.acts[0]
    curves = result.onset_curves(bin_s=bin_s)
    curves = curves[curves["act"] == act]
    if not len(curves):
        raise ValueError(f"The study patched no {act!r}; its acts are {list(result.spec.acts)}.")
    directions = [d for d in ("denoise", "noise") if d in set(curves["direction"])]
    fig, axes = plt.subplots(
        1, len(directions), sharey=True, figsize=(5.5 * len(directions), 3.8), squeeze=False
    )
    sites = ordered_sites(curves)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(len(sites), 1)))
    rows = result.rows[result.rows["act"] == act]
    word_s = float((rows["offset_s"] - rows["onset_s"]).mean())
    for ax, direction in zip(axes[0], directions):
        part = curves[curves["direction"] == direction]
        for site, colour in zip(sites, colours):
            line = part[part["site"] == site].sort_values("bin_s")
            centres = line["bin_s"] + bin_s / 2
            ax.plot(centres, line["mean"], color=colour, label=site, marker=".", gid=site)
            ax.fill_between(centres, line["ci_low"], line["ci_high"], color=colour, alpha=0.2)
        ax.axvspan(0.0, word_s, color="0.85", zorder=0, label="changed word (mean length)")
        ax.axhline(0.0, color="0.5", linewidth=0.6)
        ax.set_xlabel("time from the changed word's onset (s)")
        ax.set_title(DIRECTION_TITLES[direction], fontsize=10)
    axes[0, 0].set_ylabel(RECOVERY_AXIS)
    axes[0, 0].legend(fontsize=8, loc="best")
    n_pairs = rows["pair"].nunique()
    fig.suptitle(
        f"{act}: recovery of {metric_name(rows)} around the changed word, mean over "
        f"{n_pairs} pair(s) with 95% interval ({bin_s:g} s bins)",
        fontsize=10,
        wrap=True,  # one panel is narrower than the title
    )
    fig.set_layout_engine("constrained")
    return fig


def corruption_figure(table: pd.DataFrame, layers: Sequence[int] | None = None):
    """Minimal pairs against noise (`corruption_table`'s rows): peak recovery and sharpness
    (share of positive recovery within the changed word +-0.1 s) per corruption, a bar per
    layer. Returns the figure."""
    import matplotlib.pyplot as plt

    if not len(table):
        raise ValueError("The comparison table is empty: run compare_corruptions first.")
    layers = sorted(table["layer"].unique()) if layers is None else list(layers)
    corruptions = list(dict.fromkeys(table["corruption"]))
    width = 0.8 / len(layers)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 3.2 + 0.25 * len(corruptions)))
    x = np.arange(len(corruptions))
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(layers)))
    indexed = table.set_index(["corruption", "layer"])
    for ax, column, label in (
        (axes[0], "peak", "peak recovery (0 = corrupt, 1 = clean)"),
        (axes[1], "sharpness", "sharpness (share on the changed word)"),
    ):
        for i, (layer, colour) in enumerate(zip(layers, colours)):
            heights = [indexed[column].get((name, layer), np.nan) for name in corruptions]
            ax.barh(
                x + (i - (len(layers) - 1) / 2) * width,
                heights,
                height=width,
                color=colour,
                label=f"layer {layer}",
                gid=f"{column} layer {layer}",
            )
        ax.set_yticks(x, corruptions)
        ax.invert_yaxis()
        ax.set_xlabel(label)
    axes[1].set_xlim(0.0, 1.0)
    axes[1].tick_params(labelleft=False)
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "Denoising maps per corruption: minimal pairs against noise (mean over usable pairs)",
        fontsize=10,
    )
    fig.set_layout_engine("constrained")
    return fig
