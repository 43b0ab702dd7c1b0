"""Reference word times, on any model family: reading them (TextGrid, CTM, CSV), checking them
against the clip and the transcript, and scoring estimated times against them."""

from hooked_audio.word_times.checks import WordTimes, check_word_times
from hooked_audio.word_times.matching import check_words_match, matched_words
from hooked_audio.word_times.reading import (
    read_csv,
    read_ctm,
    read_textgrid,
    read_word_times,
    write_csv,
)
from hooked_audio.word_times.scoring import (
    TOLERANCES_S,
    score_clips,
    score_word_starts,
    start_errors,
)

__all__ = [
    "TOLERANCES_S",
    "WordTimes",
    "check_word_times",
    "check_words_match",
    "matched_words",
    "read_csv",
    "read_ctm",
    "read_textgrid",
    "read_word_times",
    "score_clips",
    "score_word_starts",
    "start_errors",
    "write_csv",
]
