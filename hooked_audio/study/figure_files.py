"""The PNG files `hooked-audio study` writes beside its results: the matplotlib figures of
`hooked_audio.study.figures`, one file each, in `OUT/figures/`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hooked_audio.safe_files import write_bytes_via

FIGURES_DIR = "figures"
DPI = 120


def write_figures(
    result, pairs: Sequence, out_dir: Path, comparison: pd.DataFrame | None = None
) -> list[Path]:
    """Write, for each activation, `onsets_<act>.png` and one `pair_<id>_<act>.png` per pair
    that has rows, and `corruptions.png` for a comparison table; returns the paths in order.
    Pair ids are file-safe (a `PairSet` checks them)."""
    import matplotlib.pyplot as plt

    from hooked_audio.study.figures import corruption_figure, onset_figure, pair_map_figure

    studied = set(result.pairs)
    jobs = []
    for act in result.spec.acts:
        jobs.append((f"onsets_{act}.png", lambda act=act: onset_figure(result, act=act)))
        jobs += [
            (
                f"pair_{pair.id}_{act}.png",
                lambda pair=pair, act=act: pair_map_figure(result, pair, act),
            )
            for pair in pairs
            if pair.id in studied
        ]
    if comparison is not None and len(comparison):
        jobs.append(("corruptions.png", lambda: corruption_figure(comparison)))
    written = []
    for name, draw in jobs:
        figure = draw()
        # renamed into place inside the folder: a symlink planted there is replaced
        path = write_bytes_via(
            out_dir, f"{FIGURES_DIR}/{name}", lambda tmp: figure.savefig(tmp, dpi=DPI, format="png")
        )
        plt.close(figure)
        written.append(path)
    return written
