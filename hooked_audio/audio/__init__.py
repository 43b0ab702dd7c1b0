"""Audio input for hooked Whisper: loading, log-mel features and the framed layout."""

from hooked_audio.audio.batch import AudioLike, load_audio_batch
from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.frames import frames_to_mel, mel_to_frames
from hooked_audio.audio.load import load_audio
from hooked_audio.audio.mel import MelBatch, log_mel, log_mel_chunks
from hooked_audio.audio.waveform import Audio

__all__ = [
    "Audio",
    "AudioLike",
    "AudioInputError",
    "MelBatch",
    "frames_to_mel",
    "load_audio",
    "load_audio_batch",
    "log_mel",
    "log_mel_chunks",
    "mel_to_frames",
]
