"""Audio-language models with hooks: `HookedAudioLM` (Qwen2-Audio, Voxtral), its stream views,
window cells, logit lens and layer information score."""

from hooked_audio.models.audio_lm.architectures import (
    AudioLMArchitecture,
    get_architecture,
    register_architecture,
)
from hooked_audio.models.audio_lm.config import HookedAudioLMConfig
from hooked_audio.models.audio_lm.layer_score import (
    LayerScoreResult,
    ScoreItem,
    layer_information_score,
)
from hooked_audio.models.audio_lm.logit_lens import logit_lens
from hooked_audio.models.audio_lm.logit_lens_result import LogitLensResult
from hooked_audio.models.audio_lm.model import HookedAudioLM
from hooked_audio.models.audio_lm.streams import AudioLMStream, AudioTowerStream
from hooked_audio.models.audio_lm.window_cells import audio_window_cells

__all__ = [
    "AudioLMArchitecture",
    "AudioLMStream",
    "AudioTowerStream",
    "HookedAudioLM",
    "HookedAudioLMConfig",
    "LayerScoreResult",
    "LogitLensResult",
    "ScoreItem",
    "audio_window_cells",
    "get_architecture",
    "layer_information_score",
    "logit_lens",
    "register_architecture",
]
