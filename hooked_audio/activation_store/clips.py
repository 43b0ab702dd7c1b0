"""The clips an activation store is written from: an id (it names the clip's files), the audio
(any length: clips longer than the model's window are split into windows that keep the clip's
time), and optionally the words spoken, with their times, for the store's `word` column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hooked_audio.audio import Audio, AudioLike, load_audio
from hooked_audio.models.whisper.reference_words import (
    WordTimes,
    check_word_times,
    read_word_times,
)
from hooked_audio.pairs import MinimalPair
from hooked_audio.pairs.safe_files import check_file_stem

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
WORDS_SUFFIX = ".words.csv"


@dataclass(frozen=True)
class StoreClip:
    """`audio`: a path, an `Audio`, or a waveform with `sample_rate`; stored at 16 kHz.
    `words`: `(word, start_s, end_s)` in order, in seconds from the clip's start."""

    id: str
    audio: Audio
    words: WordTimes = ()

    def __init__(self, id: str, audio: AudioLike, words=(), sample_rate: int | None = None):
        check_file_stem(id, "A clip id", "'interview-03'")
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "audio", load_audio(audio, sample_rate))
        words = check_word_times(id, words, self.seconds)
        object.__setattr__(self, "words", words)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.audio.sample_rate


def clips_from_folder(folder: str | Path) -> list[StoreClip]:
    """Every audio file of `folder` (wav, flac, ogg, mp3; not its subfolders), by name; the
    file's stem is the clip id. A `<stem>.words.csv` beside a file (`word,start,end` rows)
    gives its words."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{str(folder)!r} is not a folder of audio files.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"{str(folder)!r} holds no audio file ({', '.join(AUDIO_SUFFIXES)}).")
    clips = []
    for path in files:
        words_file = path.with_name(path.stem + WORDS_SUFFIX)
        words = read_word_times(words_file) if words_file.is_file() else ()
        clips.append(StoreClip(path.stem, path, words))
    return clips


def clips_from_pairs(pairs: list[MinimalPair]) -> list[StoreClip]:
    """Both clips of every pair, `<id>.clean` and `<id>.corrupt`; the clean clip carries the
    pair's word times (`meta["clean_words"]`), and so does the corrupt one where the pair
    gives them (`meta["corrupt_words"]`)."""
    clips = []
    for pair in pairs:
        for side in ("clean", "corrupt"):
            words = pair.meta.get(f"{side}_words") or ()
            clips.append(StoreClip(f"{pair.id}.{side}", getattr(pair, f"{side}_audio"), words))
    return clips
