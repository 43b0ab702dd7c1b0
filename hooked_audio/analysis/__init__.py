"""Analyses built on the stream views and patching engines: the grounding coefficient of audio
LMs, representation similarity (CKA) within and between models, and context mixing by value
zeroing."""

from hooked_audio.analysis.cka import linear_cka
from hooked_audio.analysis.cka_matrix import CKAResult, cka_matrix
from hooked_audio.analysis.context_mixing_result import ContextMixingMap
from hooked_audio.analysis.grounding import (
    GroundingResult,
    audio_text_cells,
    audio_text_sweep,
    grounding_coefficient,
)
from hooked_audio.analysis.layer_activations import (
    LayerActivations,
    aligned_activations,
    layer_activations,
)
from hooked_audio.analysis.value_zeroing import value_zeroing

__all__ = [
    "CKAResult",
    "ContextMixingMap",
    "GroundingResult",
    "LayerActivations",
    "aligned_activations",
    "audio_text_cells",
    "audio_text_sweep",
    "cka_matrix",
    "grounding_coefficient",
    "layer_activations",
    "linear_cka",
    "value_zeroing",
]
