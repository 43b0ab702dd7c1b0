"""Causal studies over many minimal pairs: `run_study` patches every pair's audio stream per
layer and cell in both directions into one tidy table (`StudyResult`), written to a folder it
can resume from. Any model family the application serves (`hooked_audio.models.family`) runs
one: its `pair_contrast` derives each content pair's metric from its text."""

from hooked_audio.study.result import StudyResult
from hooked_audio.study.run import run_study
from hooked_audio.study.spec import STUDY_ACTS, StudySpec, parse_granularity

__all__ = [
    "STUDY_ACTS",
    "StudyResult",
    "StudySpec",
    "parse_granularity",
    "run_study",
]
