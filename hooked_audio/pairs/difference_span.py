"""Where two clips of a minimal pair differ: the changed word's time, read from the sound.

The clean and corrupt clips of a content pair say the same sentence except one word, at the
same times (synthesised word-aligned, or time-warped with `align_pair`). Their log-mels then
differ most over the changed word, which gives its span without any model: on the bundled
content pairs and three new synthesised ones, `difference_span` finds the changed word within
0.04 s of its synthesised start and 0.07 s of its end, from a rough time 0.2 s off either way
(tests/pairs/test_difference_span.py). Word timestamps from a model's alignment heads can be
off by more than that (tiny.en places "Paris" 0.21 s late), enough to put a word's frames in
its neighbour's cell. A change of voice (3 semitones lower) still leaves the word standing
out; clips that differ all along (noise over the whole clip, two takes whose timing
`align_pair` could not match) leave nothing standing out, and the caller keeps its times.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from torch import Tensor

from hooked_audio.constants import SECONDS_PER_POSITION

#: positions count as part of the difference when at least this share of its peak ...
LEVEL = 0.25
#: ... and at least this many times the clip's median difference (the background)
BACKGROUND = 3.0
#: at most this many positions below the level inside the span (a stop's closure, a vowel
#: both words share)
MAX_GAP = 4
#: the span must stand at least this many times above the clip's median difference ...
MIN_CONTRAST = 3.0
#: ... and last at least this long (a word, not a click)
MIN_SECONDS = 0.06


def position_difference(
    clean_mel: Float[Tensor, "n_mels mel_frames"],
    corrupt_mel: Float[Tensor, "n_mels mel_frames"],
    n_positions: int,
) -> Float[np.ndarray, " position"]:
    """Mean absolute log-mel difference per 20 ms position (two 10 ms mel frames each) over the
    first `n_positions` positions."""
    if clean_mel.shape != corrupt_mel.shape or clean_mel.ndim != 2:
        raise ValueError(
            f"Expected two log-mels [n_mels, frames] of one shape, got {tuple(clean_mel.shape)} "
            f"and {tuple(corrupt_mel.shape)}: align the clips to one length first."
        )
    if not 0 < 2 * n_positions <= clean_mel.shape[-1]:
        raise ValueError(
            f"n_positions={n_positions} needs {2 * n_positions} mel frames; the log-mels "
            f"have {clean_mel.shape[-1]}."
        )
    frames = (clean_mel - corrupt_mel).abs().float().mean(0)[: 2 * n_positions]
    return frames.reshape(n_positions, 2).mean(1).cpu().numpy()


def difference_span(
    difference: Float[np.ndarray, " position"],
    around: tuple[float, float],
    reach_s: float = 0.3,
    seconds_per_position: float = SECONDS_PER_POSITION,
) -> tuple[float, float] | None:
    """The span `(start_s, end_s)` where the clips differ most near `around` (a rough time of
    the changed word, searched `reach_s` either side): the positions from the largest
    difference outwards while it stays at least `LEVEL` of that peak and `BACKGROUND` times
    the clip's median, across gaps of at most `MAX_GAP` positions. None when nothing stands
    out: the span is shorter than `MIN_SECONDS` or its mean difference under `MIN_CONTRAST`
    times the clip's median (clips that differ all along)."""
    n = len(difference)
    first = max(0, int(np.floor((around[0] - reach_s) / seconds_per_position)))
    last = min(n, int(np.ceil((around[1] + reach_s) / seconds_per_position)))
    if first >= last:
        raise ValueError(
            f"The word's time {around[0]:.2f}-{around[1]:.2f} s lies outside the clip's "
            f"{n * seconds_per_position:.2f} s."
        )
    window = difference[first:last]
    background = float(np.median(difference))
    peak = int(np.argmax(window))
    height = float(window[peak])
    above = window >= max(LEVEL * height, BACKGROUND * background)
    start = end = peak
    while True:
        ahead = [p for p in range(end + 1, min(end + 2 + MAX_GAP, len(window))) if above[p]]
        if not ahead:
            break
        end = ahead[0]
    while True:
        behind = [p for p in range(start - 1, max(start - 2 - MAX_GAP, -1), -1) if above[p]]
        if not behind:
            break
        start = behind[0]
    inside = float(window[start : end + 1].mean())
    if (end + 1 - start) * seconds_per_position < MIN_SECONDS - 1e-9 or not (
        inside > MIN_CONTRAST * background
    ):
        return None
    return (first + start) * seconds_per_position, (first + end + 1) * seconds_per_position
