"""Analyses built on the patching engines: the grounding coefficient of audio LMs."""

from hooked_audio.analysis.grounding import (
    GroundingResult,
    audio_text_cells,
    audio_text_sweep,
    grounding_coefficient,
)

__all__ = ["GroundingResult", "audio_text_cells", "audio_text_sweep", "grounding_coefficient"]
