"""Do minimal pairs give sharper causal maps than noise? The same pairs, corrupted three ways.

For each content pair, the clean clip is corrupted by the pair itself (the word changed) and
by white or pink noise at chosen SNRs, over the whole clip or over the changed word's span,
with seeds. Each corruption is denoised (its run, clean activations patched in) cell by cell
at each layer, with the pair's word contrast as the metric. Per corruption and layer:

- peak recovery: the largest normalised recovery over the cells (0 = corrupt, 1 = clean);
- sharpness: the share of the positive recovery mass that lies in cells whose centre is
  within the changed word's span widened by `margin_s` on each side (1 = all of it there).

A corruption whose clean-corrupt gap is below `min_gap` (noise that does not move the
contrast) is reported, not averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from hooked_audio.checks import check_layers
from hooked_audio.corruptions import pink_noise, white_noise
from hooked_audio.models.loading import model_family
from hooked_audio.pairs import MinimalPair
from hooked_audio.patching import layer_sweep
from hooked_audio.study.pair_cells import pair_cells

NOISES: dict[str, Callable] = {"white": white_noise, "pink": pink_noise}
SCOPES = ("clip", "word")


@dataclass(frozen=True)
class NoiseCorruption:
    """White or pink noise at `snr_db` over the clip or the changed word, with a seed."""

    kind: str
    snr_db: float
    scope: str
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in NOISES:
            raise ValueError(f"noise kind must be one of {tuple(NOISES)}, got {self.kind!r}.")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}.")

    @property
    def name(self) -> str:
        return f"{self.kind} noise {self.snr_db:g} dB ({self.scope}, seed {self.seed})"

    def apply(self, pair: MinimalPair):
        span = pair.spans_s[0] if self.scope == "word" else None
        return NOISES[self.kind](pair.clean_audio, self.snr_db, seed=self.seed, span=span)


def map_scores(
    normalised: np.ndarray, centres: np.ndarray, span: tuple[float, float], margin_s: float
) -> tuple[float, float]:
    """`(peak recovery, sharpness)` of one layer's row of normalised recoveries."""
    positive = np.clip(normalised, 0.0, None)
    inside = (centres >= span[0] - margin_s) & (centres <= span[1] + margin_s)
    total = positive.sum()
    sharpness = float(positive[inside].sum() / total) if total > 0 else float("nan")
    return float(normalised.max()), sharpness


def compare_corruptions(
    model,
    pairs: Iterable[MinimalPair],
    noises: Sequence[NoiseCorruption],
    layers: Sequence[int] | None = (0,),
    granularity: str = "windows:0.1",
    margin_s: float = 0.1,
    min_gap: float = 1.0,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per pair, corruption and layer: `peak`, `sharpness`, the gap, and `usable`.
    Summarise with `corruption_table(rows)`. A recording longer than the model's window is
    compared in the window its audio stream reads (`family.pair_window`: on Whisper the window
    of the change; noise elsewhere cannot move that window's metric); a pair the family cannot
    read (e.g. one changed in two windows) is left out, as `run_study` leaves it out."""
    if not margin_s >= 0:
        raise ValueError(f"margin_s must be >= 0, got {margin_s}.")
    family = model_family(model)
    layers = check_layers(layers, family.layers("audio"))
    pairs = [p for p in pairs if p.kind == "content"]
    if not pairs:
        raise ValueError("compare_corruptions needs content pairs (one changed word each).")
    rows = []
    bar = tqdm(total=len(pairs) * (1 + len(noises)), disable=not progress, desc="corruptions")
    for whole in pairs:
        try:
            pair = family.pair_window(whole).pair
        except ValueError:  # run_study lists it in `skipped`, with why
            bar.update(1 + len(noises))
            continue
        contrast = family.pair_contrast(pair)
        metric, view = contrast.metric(), family.audio_stream(contrast)
        clean = family.audio_inputs(pair.clean_audio)
        cells = pair_cells(pair, granularity, clean.shape[-1], family.seconds_per_position)
        centres = np.array([(a + b) / 2 for a, b in cells.seconds])
        corruptions = [("minimal pair", pair.corrupt_audio)] + [
            (noise.name, noise.apply(pair)) for noise in noises
        ]
        for name, audio in corruptions:
            corrupt = family.audio_inputs(audio)
            with torch.no_grad():
                gap = float(metric(view(clean)) - metric(view(corrupt)))
            base = {"pair": pair.id, "corruption": name, "gap": gap}
            if not abs(gap) >= min_gap:
                rows += [
                    {
                        **base,
                        "layer": layer,
                        "usable": False,
                        "peak": float("nan"),
                        "sharpness": float("nan"),
                    }
                    for layer in layers
                ]
                bar.update(1)
                continue
            result = layer_sweep(
                view,
                clean,
                corrupt,
                metric,
                direction="denoise",
                layers=layers,
                cells=cells.cells,
                labels=cells.labels,
                progress=False,
            )
            normalised = result.normalised().numpy()
            for li, layer in enumerate(layers):
                peak, sharpness = map_scores(normalised[li], centres, pair.spans_s[0], margin_s)
                rows.append(
                    {**base, "layer": layer, "usable": True, "peak": peak, "sharpness": sharpness}
                )
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def corruption_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per corruption and layer: mean peak recovery and sharpness over the usable pairs (NaN
    where none was usable), and how many pairs were usable out of how many."""
    keys = ["corruption", "layer"]
    counts = rows.groupby(keys, sort=False)["usable"].agg(["sum", "count"])
    counts = counts.rename(columns={"sum": "usable_pairs", "count": "pairs"})
    means = rows[rows["usable"]].groupby(keys)[["peak", "sharpness"]].mean()
    table = counts.join(means, how="left")[["peak", "sharpness", "usable_pairs", "pairs"]]
    return table.reset_index()
