"""`TranscriptClip`s: the clips an ablation study transcribes, with reference text where
there is one; from a folder, the synthesised non-speech set, or the shipped recordings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hooked_audio.audio import Audio, load_audio
from hooked_audio.interventions import non_speech_clips
from hooked_audio.recordings import recorded_clips

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
#: the clip sets named by a word rather than a folder
NAMED_CLIP_SETS = ("non-speech", "recorded")


@dataclass(frozen=True)
class TranscriptClip:
    """A clip to transcribe: `name`, `audio` (16 kHz), `reference` (what is said; "" for a
    clip without speech, None when unknown)."""

    name: str
    audio: Audio
    reference: str | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.audio.sample_rate


def non_speech_set(seconds: float = 10.0, seed: int = 0) -> list[TranscriptClip]:
    """The synthesised non-speech clips (`hooked_audio.interventions.non_speech_clips`), each
    with the empty reference."""
    return [
        TranscriptClip(name, audio, "")
        for name, audio in non_speech_clips(seconds=seconds, seed=seed).items()
    ]


def recorded_set(max_seconds: float = 30.0) -> list[TranscriptClip]:
    """The shipped recordings of at most `max_seconds` (one Whisper window), with their
    texts."""
    return [
        TranscriptClip(clip.name, clip.audio, clip.text)
        for clip in recorded_clips()
        if len(clip.audio) / clip.audio.sample_rate <= max_seconds
    ]


def folder_set(folder: str | Path) -> list[TranscriptClip]:
    """Every audio file in `folder` (not its subfolders), sorted by name; the reference of
    `clip.flac` is the text of `clip.txt` beside it, when there is one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(
            f"{folder} is not a folder of clips; give a folder of audio files (with optional "
            f"<name>.txt references) or one of {NAMED_CLIP_SETS}."
        )
    clips = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
            continue
        text = path.with_suffix(".txt")
        reference = text.read_text(encoding="utf-8").strip() if text.is_file() else None
        clips.append(TranscriptClip(path.stem, load_audio(path), reference))
    if not clips:
        raise ValueError(f"{folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
    return clips


def clip_set(source: str | Path) -> list[TranscriptClip]:
    """`source`: "non-speech", "recorded", or a folder (see `folder_set`)."""
    if str(source) == "non-speech":
        return non_speech_set()
    if str(source) == "recorded":
        return recorded_set()
    return folder_set(source)


def check_clips(clips: list[TranscriptClip], needs_reference: bool, metric: str) -> None:
    """Refuse an empty clip set, repeated names, and clips without a reference when the
    metric needs one."""
    if not clips:
        raise ValueError("The clip set is empty: give at least one clip.")
    names = [clip.name for clip in clips]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Clip names repeat: {repeated}; every clip needs its own name.")
    if needs_reference:
        missing = [clip.name for clip in clips if clip.reference is None]
        if missing:
            raise ValueError(
                f"The metric {metric!r} compares with reference transcripts, and clips "
                f"{missing} have none: put each one's text in <name>.txt beside it, or use "
                "--metric hallucination (no references needed)."
            )
