"""The cells a study patches for one pair: its words, windows, or single frames."""

from __future__ import annotations

from hooked_audio.pairs import MinimalPair
from hooked_audio.patching import time_cells
from hooked_audio.patching.time_cells import TimeCells
from hooked_audio.study.spec import parse_granularity


def pair_cells(
    pair: MinimalPair, granularity: str, n_positions: int, seconds_per_position: float
) -> TimeCells:
    """Cells over the speech of `pair` (its clean clip's duration, not the window's padding):
    one per word of the clean clip (`pair.meta["clean_words"]`, valid for both clips of a
    word-aligned pair), windows of the given length, or single 20 ms frames."""
    kind, window_s = parse_granularity(granularity)
    duration = len(pair.clean_audio) / pair.clean_audio.sample_rate
    if kind == "words":
        words = pair.meta.get("clean_words")
        if not words:
            raise ValueError(
                f"Pair {pair.id!r} carries no word timings (meta['clean_words']): use "
                "granularity 'windows:0.1' or 'frames', or build it with hooked_audio.pairs."
            )
        return time_cells.spans(
            n_positions,
            [(start, end) for _, start, end in words],
            labels=[word for word, _, _ in words],
            seconds_per_frame=seconds_per_position,
        )
    if kind == "windows":
        return time_cells.windows(
            n_positions, window_s=window_s, end_s=duration, seconds_per_frame=seconds_per_position
        )
    frames = time_cells.speech_frames(duration, n_positions, seconds_per_position)
    return time_cells.spans(
        n_positions,
        [(f * seconds_per_position, (f + 1) * seconds_per_position) for f in frames],
        seconds_per_frame=seconds_per_position,
    )
