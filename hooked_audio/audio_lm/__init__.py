"""Audio-language models with hooks: `HookedAudioLM` (Qwen2-Audio, Voxtral), audio-vs-text
patching and the grounding coefficient."""

from hooked_audio.audio_lm.config import HookedAudioLMConfig
from hooked_audio.audio_lm.grounding import (GroundingResult, audio_text_cells, audio_text_sweep,
                                             grounding_coefficient)
from hooked_audio.audio_lm.model import HookedAudioLM
from hooked_audio.audio_lm.layer_score import LayerScoreResult, ScoreItem, layer_information_score
from hooked_audio.audio_lm.logit_lens import logit_lens
from hooked_audio.audio_lm.logit_lens_result import LogitLensResult
from hooked_audio.audio_lm.position_sweep import LM_ACTS, audio_window_cells, position_sweep

__all__ = ["GroundingResult", "HookedAudioLM", "HookedAudioLMConfig", "LM_ACTS",
           "audio_text_cells", "audio_text_sweep", "audio_window_cells", "grounding_coefficient",
           "position_sweep"]
__all__ += ["LayerScoreResult", "LogitLensResult", "ScoreItem", "layer_information_score",
            "logit_lens"]
