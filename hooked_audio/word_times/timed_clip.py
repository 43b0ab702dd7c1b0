"""A clip of at most one window with the reference times of its words."""

from __future__ import annotations

from dataclasses import dataclass

from hooked_audio.audio import Audio
from hooked_audio.constants import SAMPLE_RATE, WINDOW_SECONDS
from hooked_audio.word_times.checks import WordTimes, check_word_times


@dataclass(frozen=True)
class TimedClip:
    """A clip of at most one window and the reference `(word, start_s, end_s)` of its words, in
    order (checked: `check_word_times`). `name` labels it in results."""

    name: str
    audio: Audio
    words: WordTimes

    def __post_init__(self) -> None:
        if not self.words:
            raise ValueError(f"Clip {self.name!r} has no reference words.")
        seconds = len(self.audio) / SAMPLE_RATE
        if seconds > WINDOW_SECONDS:
            raise ValueError(
                f"Clip {self.name!r} is {seconds:.1f} s long, over Whisper's {WINDOW_SECONDS} s "
                "window; cut it into clips of one window."
            )
        object.__setattr__(self, "words", check_word_times(self.name, self.words, seconds))
