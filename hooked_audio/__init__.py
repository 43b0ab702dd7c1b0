"""hooked_audio: TransformerLens for audio models.

`HookedWhisper` rebuilds OpenAI Whisper with a TransformerLens hook point at every residual
stream, attention head and MLP, so `run_with_cache`, `run_with_hooks`, `ActivationCache` and
`transformer_lens.patching` work on 20 ms audio frames. `HookedAudioLM` does the same for
audio-language models (Qwen2-Audio, Voxtral), `HookedAudioEncoder` for wav2vec2 and HuBERT.
"""

from hooked_audio.audio import Audio, AudioInputError, frames_to_mel, load_audio, mel_to_frames
from hooked_audio.cache_memory import CacheTooLargeError
from hooked_audio.hook_point import AudioHookPoint, HookReturnError
from hooked_audio.models.audio_encoder import HookedAudioEncoder, HookedAudioEncoderConfig
from hooked_audio.models.audio_lm import HookedAudioLM, HookedAudioLMConfig
from hooked_audio.models.whisper import HookedWhisper, HookedWhisperConfig

__version__ = "0.1.0"

__all__ = [
    "Audio",
    "AudioHookPoint",
    "AudioInputError",
    "CacheTooLargeError",
    "HookedAudioEncoder",
    "HookedAudioEncoderConfig",
    "HookedAudioLM",
    "HookedAudioLMConfig",
    "HookedWhisper",
    "HookedWhisperConfig",
    "HookReturnError",
    "frames_to_mel",
    "load_audio",
    "mel_to_frames",
]

# TransformerLens's own loader (`TransformerBridge.boot_transformers`) finds the Whisper
# adapter once hooked_audio is imported (hooked_audio.models.whisper.bridge.registration).
from hooked_audio.models.whisper.bridge import register as _register_whisper_bridge_adapter

_register_whisper_bridge_adapter()
