"""Interventions that run while a model transcribes: ablating a head or a component
(`ablation_hook`), adding a direction to an activation (`steering_hook`), and the non-speech
clips hallucination studies run on (`non_speech_clips`).

These are engine-level: they know hook names and tensors, never a model family. A family says
which components it can ablate (`AblationSite`s) and how it transcribes under hooks; the
ablation study (`hooked_audio.ablation_study`) puts the two together.
"""

from hooked_audio.interventions.ablation_hooks import ABLATIONS, ablation_hook
from hooked_audio.interventions.non_speech import NON_SPEECH_KINDS, non_speech_clips
from hooked_audio.interventions.reference_pool import (
    ReadableTranscriber,
    ReferencePool,
    collect_reference_pools,
)
from hooked_audio.interventions.sites import AblationSite
from hooked_audio.interventions.steering import steering_hook

__all__ = [
    "ABLATIONS",
    "NON_SPEECH_KINDS",
    "AblationSite",
    "ReadableTranscriber",
    "ReferencePool",
    "ablation_hook",
    "collect_reference_pools",
    "non_speech_clips",
    "steering_hook",
]
