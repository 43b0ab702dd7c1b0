"""How a study unit obtains its values in each `StudySpec.mode`, decided in one place.

A kind of unit (whole layers in `units.py`, heads in `head_units.py`) names its engine for
each mode (`ModeEngines`); `run_mode` picks by the spec: exact patching, an adaptive exact
map, or integrated-gradients estimates, which mode 'verified' hands to the verifier so that
the largest cells are patched exactly (the result's `exact` marks them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.study.spec import StudySpec


@dataclass(frozen=True)
class ModeEngines:
    """The engine of each mode for one unit; `adaptive` is None for units that have no
    adaptive map (heads: `StudySpec` refuses that pairing before any work)."""

    exact: Callable[[], SweepResult]
    estimate: Callable[[], SweepResult]
    verify: Callable[[SweepResult], SweepResult]
    adaptive: Callable[[], SweepResult] | None = None


def run_mode(spec: StudySpec, engines: ModeEngines) -> SweepResult:
    """The unit's result as `spec.mode` says."""
    if spec.mode == "exact":
        return engines.exact()
    if spec.mode == "adaptive":
        if engines.adaptive is None:
            raise ValueError("mode 'adaptive' refines whole-layer acts only.")
        return engines.adaptive()
    estimate = engines.estimate()
    return engines.verify(estimate) if spec.mode == "verified" else estimate
