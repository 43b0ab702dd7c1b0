"""Ablation studies: transcribe a clip set with each head (or component) of a model ablated in
turn and measure what changes in the transcripts (`run_ablation_study`, `hooked-audio
ablate`); steering sweeps along a direction (`steering_sweep`). See docs/ablation.md."""

from hooked_audio.ablation_study.clips import (
    NAMED_CLIP_SETS,
    TranscriptClip,
    clip_set,
    folder_set,
    non_speech_set,
    recorded_set,
)
from hooked_audio.ablation_study.executors import LocalAblationExecutor, RayAblationExecutor
from hooked_audio.ablation_study.joint import transcribe_ablated
from hooked_audio.ablation_study.result import AblationResult
from hooked_audio.ablation_study.run import run_ablation_study
from hooked_audio.ablation_study.spec import AblationSpec
from hooked_audio.ablation_study.steering_sweep import SteeringResult, steering_sweep

__all__ = [
    "NAMED_CLIP_SETS",
    "AblationResult",
    "AblationSpec",
    "LocalAblationExecutor",
    "RayAblationExecutor",
    "SteeringResult",
    "TranscriptClip",
    "clip_set",
    "folder_set",
    "non_speech_set",
    "recorded_set",
    "run_ablation_study",
    "steering_sweep",
    "transcribe_ablated",
]
