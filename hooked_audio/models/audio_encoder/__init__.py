"""Hooked wav2vec2 and HuBERT: raw-waveform encoders (conv feature extractor + transformer,
optional CTC head), their config, and their stream view."""

from hooked_audio.models.audio_encoder.config import HookedAudioEncoderConfig
from hooked_audio.models.audio_encoder.frames import frames_to_waveform, waveform_to_frames
from hooked_audio.models.audio_encoder.model import HookedAudioEncoder
from hooked_audio.models.audio_encoder.streams import AudioEncoderStream

__all__ = [
    "AudioEncoderStream",
    "HookedAudioEncoder",
    "HookedAudioEncoderConfig",
    "frames_to_waveform",
    "waveform_to_frames",
]
