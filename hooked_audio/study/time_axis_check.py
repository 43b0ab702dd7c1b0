"""Is the changed word's cell where the effect is? A time-axis check of word cells.

Word cells are only as good as the word times that cut them. On recordings the times can be off
by 100 ms and more (benchmarks/WORD_TIMING_RESULTS.md), enough to put the onset of the changed
word in its neighbour's cell, where a word-cell map then shows the effect under the wrong word.
`time_axis_cells` cuts short windows over the changed word and the word before it; patched
like the word cells, they show the effect on a time axis, and `cell_check` reads it: the share
of the effect inside the changed word's cell and where it peaks.

The effect of a window is `recovery` when denoising (clean frames into the corrupt run) and
`1 - recovery` when noising (corrupt frames into the clean run); negative effects count as 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hooked_audio.patching import time_cells
from hooked_audio.patching.time_cells import TimeCells

#: the time axis's window
WINDOW_S = 0.06
#: below this share of the effect inside the changed word's cell, the cells may be wrong
MIN_INSIDE_SHARE = 0.6


def time_axis_cells(
    words: list[tuple[str, float, float]],
    changed: int,
    n_positions: int,
    seconds_per_position: float,
    window_s: float = WINDOW_S,
) -> TimeCells:
    """Windows of `window_s` from the start of the word before the changed one (or 0.3 s before
    the changed word when it is the first) to 0.1 s after the changed word's end."""
    if not 0 <= changed < len(words):
        raise ValueError(f"changed={changed} is not a word index (0..{len(words) - 1}).")
    start = words[changed - 1][1] if changed > 0 else max(0.0, words[changed][1] - 0.3)
    end = words[changed][2] + 0.1
    return time_cells.windows(
        n_positions,
        window_s=window_s,
        start_s=start,
        end_s=end,
        seconds_per_frame=seconds_per_position,
    )


@dataclass(frozen=True)
class CellCheck:
    """`inside_share`: the share of the time axis's effect inside the changed word's cell at the
    layer with the largest effect (`layer`); `peak_s`: the middle of its strongest window;
    `suspect`: whether the word cells may misplace the effect."""

    direction: str
    layer: int
    inside_share: float
    peak_s: float
    cell_s: tuple[float, float]

    @property
    def suspect(self) -> bool:
        return self.inside_share < MIN_INSIDE_SHARE or not (
            self.cell_s[0] <= self.peak_s <= self.cell_s[1]
        )

    def shifted(self, offset_s: float) -> CellCheck:
        """The check with its times `offset_s` later: a window's check in seconds of the
        recording."""
        start, end = self.cell_s
        return dataclasses.replace(
            self, peak_s=self.peak_s + offset_s, cell_s=(start + offset_s, end + offset_s)
        )

    def sentence(self, word: str) -> str:
        where = f"{self.cell_s[0]:.2f}-{self.cell_s[1]:.2f} s"
        return (
            f"{self.direction}: {self.inside_share:.0%} of the effect on the time axis (layer "
            f"{self.layer}) lies inside {word!r}'s cell ({where}); it peaks at {self.peak_s:.2f} s."
        )


def cell_check(result, cell_s: tuple[float, float]) -> CellCheck:
    """`CellCheck` of a time-axis `SweepResult` (windows in `result.cell_seconds`) against the
    changed word's cell `cell_s`."""
    recovery = result.normalised().numpy()
    effect = recovery if result.direction == "denoise" else 1.0 - recovery
    effect = np.clip(np.nan_to_num(effect, nan=0.0), 0.0, None)
    row = int(effect.sum(1).argmax())
    middles = np.array([(a + b) / 2 for a, b in result.cell_seconds])
    inside = (middles >= cell_s[0]) & (middles <= cell_s[1])
    total = effect[row].sum()
    share = float(effect[row][inside].sum() / total) if total > 0 else float("nan")
    return CellCheck(
        direction=result.direction,
        layer=int(result.layers[row]),
        inside_share=share,
        peak_s=float(middles[int(effect[row].argmax())]),
        cell_s=cell_s,
    )
