"""A clip of at most one window with the reference times of its words."""

from __future__ import annotations

from dataclasses import dataclass

from hooked_audio.audio import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.word_times.checks import WordTimes, check_word_times

#: the longest clip: one window of Whisper's encoder, whose heads the times score
#: (`hooked_audio.models.whisper.front_end.MAX_SECONDS`, which word_times cannot import
#: without a cycle: the Whisper family reads timed clips; tests/models/test_architecture.py
#: checks they agree)
MAX_SECONDS = 30


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
        if seconds > MAX_SECONDS:
            raise ValueError(
                f"Clip {self.name!r} is {seconds:.1f} s long, over Whisper's {MAX_SECONDS} s "
                "window; cut it into clips of one window."
            )
        object.__setattr__(self, "words", check_word_times(self.name, self.words, seconds))
