"""`AblationSpec`: the design of an ablation study, saved beside its results (`spec.json`) so
a stopped study resumes only with the same design."""

from __future__ import annotations

from dataclasses import dataclass

from hooked_audio.checks import check_count
from hooked_audio.interventions import ABLATIONS
from hooked_audio.metrics.transcripts import NORMALISERS, TRANSCRIPT_METRICS


@dataclass(frozen=True)
class AblationSpec:
    """`components`: what to ablate, one site at a time (a family's `ablation_components`,
    e.g. Whisper's "decoder.self_heads"); `layers`: which layers (None: all); `ablation`:
    zero, mean or resample (the last two need reference clips); `metric`: the transcript
    metric the summary and figure rank sites by (`hooked_audio.metrics.transcripts`);
    `normaliser`: how transcripts are normalised before scoring; `batch_size`: clips decoded
    at once; `seed`: of resampling."""

    components: tuple[str, ...] = ("decoder.self_heads",)
    layers: tuple[int, ...] | None = None
    ablation: str = "zero"
    metric: str = "hallucination"
    normaliser: str = "english"
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.components:
            raise ValueError("An ablation study needs at least one component to ablate.")
        if len(set(self.components)) != len(self.components):
            raise ValueError(f"Components repeat: {self.components}.")
        if self.ablation not in ABLATIONS:
            raise ValueError(f"Unknown ablation {self.ablation!r}; choose one of {ABLATIONS}.")
        if self.metric not in TRANSCRIPT_METRICS:
            raise ValueError(f"Unknown metric {self.metric!r}; choose one of {TRANSCRIPT_METRICS}.")
        if self.normaliser not in NORMALISERS:
            raise ValueError(
                f"Unknown normaliser {self.normaliser!r}; choose one of {NORMALISERS}."
            )
        check_count(self.batch_size, "batch_size")
        if self.layers is not None:
            if not self.layers or any(
                isinstance(layer, bool) or not isinstance(layer, int) or layer < 0
                for layer in self.layers
            ):
                raise ValueError(f"layers must be non-negative ints, got {self.layers!r}.")
            object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "components", tuple(self.components))
