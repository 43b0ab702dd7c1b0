"""The clips an activation store is written from: an id (it names the clip's files), the audio
(any length: clips longer than the model's window are split into windows that keep the clip's
time), and optionally the words spoken, with their times, for the store's `word` column."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hooked_audio.audio import Audio, AudioLike, load_audio
from hooked_audio.pairs import MinimalPair
from hooked_audio.safe_files import check_file_stem
from hooked_audio.word_times import WordTimes, check_word_times, read_word_times

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
#: word-times files beside an audio file, first found wins: `<stem>.words.csv`, a TextGrid or
#: a CTM of the same stem (`hooked_audio.word_times.read_word_times`)
WORDS_SUFFIXES = (".words.csv", ".TextGrid", ".ctm")


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
    file's stem is the clip id. A `<stem>.words.csv` (`word,start,end` rows), `<stem>.TextGrid`
    (its words tier) or `<stem>.ctm` beside a file gives its words."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{str(folder)!r} is not a folder of audio files.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"{str(folder)!r} holds no audio file ({', '.join(AUDIO_SUFFIXES)}).")
    clips = []
    for path in files:
        beside = [path.with_name(path.stem + suffix) for suffix in WORDS_SUFFIXES]
        words_file = next((file for file in beside if file.is_file()), None)
        words = read_word_times(words_file) if words_file is not None else ()
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


class DatasetClips(Sequence):
    """The clips of a Hugging Face `datasets.Dataset` audio column, read one at a time (so a
    large dataset streams). Items are decoded here with soundfile from the column's `bytes` or
    `path` (the column is cast to `Audio(decode=False)`, so `datasets` needs no audio backend),
    or taken as they are when already decoded (`{"array", "sampling_rate"}`). The clip id is the
    `id_column`'s value, or `<prefix>-<row>`."""

    def __init__(
        self,
        dataset,
        audio_column: str = "audio",
        id_column: str | None = None,
        prefix: str = "row",
    ):
        columns = list(getattr(dataset, "column_names", []))
        if audio_column not in columns:
            raise KeyError(f"The dataset has no column {audio_column!r}; its columns: {columns}.")
        if id_column is not None and id_column not in columns:
            raise KeyError(f"The dataset has no column {id_column!r}; its columns: {columns}.")
        feature = dataset.features[audio_column]
        if type(feature).__name__ == "Audio" and getattr(feature, "decode", False):
            from datasets import Audio as AudioFeature

            dataset = dataset.cast_column(audio_column, AudioFeature(decode=False))
        self.dataset, self.audio_column, self.id_column, self.prefix = (
            dataset,
            audio_column,
            id_column,
            prefix,
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = self.dataset[int(index)]
        clip_id = str(row[self.id_column]) if self.id_column else f"{self.prefix}-{index}"
        audio, rate = _decoded(row[self.audio_column], clip_id)
        return StoreClip(clip_id, audio, sample_rate=rate)


def clips_from_dataset(
    dataset, audio_column: str = "audio", id_column: str | None = None
) -> DatasetClips:
    """The clips of a Hugging Face `datasets` audio column (see `DatasetClips`)."""
    return DatasetClips(dataset, audio_column, id_column)


def _decoded(item, clip_id: str) -> tuple:
    """`(audio, sample_rate)` of one audio-column item."""
    import io

    import numpy as np
    import soundfile

    if isinstance(item, dict) and item.get("array") is not None:
        return np.asarray(item["array"], dtype=np.float32), int(item["sampling_rate"])
    if isinstance(item, dict) and item.get("bytes"):
        data, rate = soundfile.read(io.BytesIO(item["bytes"]), dtype="float32")
        return data, rate
    if isinstance(item, dict) and item.get("path"):
        return item["path"], None
    raise ValueError(
        f"Row {clip_id!r} of the audio column holds no audio (no array, bytes or path): {item!r}."
    )


def bundled_clips() -> list[StoreClip]:
    """The clips that ship with the package: both clips of every bundled minimal pair (with
    their word times) and the JFK clip (`jfk`, 11 s, no word times)."""
    from importlib.resources import files

    from hooked_audio.pairs import bundled_pairs

    jfk = StoreClip("jfk", files("hooked_audio") / "data" / "jfk.flac")
    return clips_from_pairs(bundled_pairs()) + [jfk]


#: six sentences of varied sounds, synthesised (`synthesised_clips`) beside the bundled clips
#: when a test or tutorial needs a little more speech (the CI-trained SAE, tutorial 6)
SPEECH_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "A large red boat sailed slowly across the calm blue water.",
    "Seven doctors arrived at the hospital before midnight.",
    "We need six spoons of fresh snow peas and five thick slabs of blue cheese.",
)


def synthesised_clips(
    texts: list[str], prefix: str = "tts", lead_s: float = 0.3
) -> list[StoreClip]:
    """Each text spoken by espeak-ng (`hooked_audio.pairs.tts.speak`), with its words' times:
    clip `<prefix>-<i>`, each at its own rate (150 to 440 words a minute) and pitch (35 to 91),
    so a set of them is not one voice at one speed, after `lead_s` seconds of silence."""
    from hooked_audio.pairs.tts import speak

    clips = []
    for i, text in enumerate(texts):
        speech = speak(text, rate=150 + 10 * (i % 30), pitch=35 + 8 * (i % 8), lead_s=lead_s)
        clips.append(StoreClip(f"{prefix}-{i}", speech.audio, speech.words))
    return clips
