"""Checks of reference word times: every word named, times finite and ordered, inside the clip,
and no two words overlapping. Each error names the clip (or file) and the word's interval, so a
bad TextGrid tier or CSV row can be found and fixed."""

from __future__ import annotations

import math

#: `(word, start_s, end_s)` per word, in order; a "word" may hold several (`"in the"`)
WordTimes = tuple[tuple[str, float, float], ...]

#: how far a word may end after the clip (a TextGrid's last interval often ends a few ms late)
END_SLACK_S = 0.05
#: how much two neighbouring words may overlap (rounding in hand-made or CTM times)
OVERLAP_SLACK_S = 0.005


def check_word_times(name: str, words, seconds: float | None = None) -> WordTimes:
    """`words` as `WordTimes` (`(str, float, float)` each) if every word is non-empty, has finite
    times `0 <= start < end`, starts after the previous word ends, and lies inside a clip of
    `seconds` (when given); else a ValueError naming `name`, the interval and the fix."""
    checked: list[tuple[str, float, float]] = []
    for number, (word, start, end) in enumerate(words, 1):
        word, start, end = str(word), float(start), float(end)
        where = f"{name!r}, word {number} ({word!r}, {start:g}-{end:g} s)"
        if not word.strip():
            raise ValueError(f"{name!r}: word {number} ({start:g}-{end:g} s) is empty.")
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise ValueError(f"{where}: needs finite times 0 <= start < end.")
        if seconds is not None and start >= seconds:
            raise ValueError(
                f"{where}: starts after the clip ends ({seconds:.2f} s); are these the times of "
                "another recording?"
            )
        if seconds is not None and end > seconds + END_SLACK_S:
            raise ValueError(
                f"{where}: ends after the clip ({seconds:.2f} s); are these the times of another "
                "recording?"
            )
        if checked and start < checked[-1][2] - OVERLAP_SLACK_S:
            previous, _, previous_end = checked[-1]
            raise ValueError(
                f"{where}: starts before word {number - 1} ({previous!r}) ends at "
                f"{previous_end:g} s; word intervals must be in order and not overlap."
            )
        checked.append((word, start, min(end, seconds) if seconds is not None else end))
    return tuple(checked)
