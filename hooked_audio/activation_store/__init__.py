"""A dataset-scale store of hook activations: many clips (any length) in, one row per 20 ms
position out, with clip, time and word columns, written streaming and resumable, read back
memory-mapped for analysis and for training probes or SAEs."""

from hooked_audio.activation_store.clips import (
    SPEECH_SENTENCES,
    StoreClip,
    bundled_clips,
    clips_from_dataset,
    clips_from_folder,
    clips_from_pairs,
    synthesised_clips,
)
from hooked_audio.activation_store.store import ActivationStore
from hooked_audio.activation_store.writer import write_activations

__all__ = [
    "SPEECH_SENTENCES",
    "ActivationStore",
    "StoreClip",
    "bundled_clips",
    "clips_from_dataset",
    "clips_from_folder",
    "clips_from_pairs",
    "synthesised_clips",
    "write_activations",
]
