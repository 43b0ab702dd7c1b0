"""Audio-language models with hooks: `HookedAudioLM` (Qwen2-Audio, Voxtral)."""

from hooked_audio.audio_lm.config import HookedAudioLMConfig
from hooked_audio.audio_lm.model import HookedAudioLM

__all__ = ["HookedAudioLM", "HookedAudioLMConfig"]
