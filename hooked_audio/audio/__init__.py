"""Audio input for every family: loading and resampling, the `Audio` waveform that carries its
rate, the framed layout of a log-mel (Whisper's log-mel itself is
`hooked_audio.models.whisper.front_end`)."""

from hooked_audio.audio.batch import AudioLike, load_audio_batch
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.frames import frames_to_mel, mel_to_frames
from hooked_audio.audio.load import load_audio
from hooked_audio.audio.waveform import Audio

__all__ = [
    "Audio",
    "AudioLike",
    "AudioInputError",
    "frames_to_mel",
    "load_audio",
    "load_audio_batch",
    "mel_to_frames",
]
