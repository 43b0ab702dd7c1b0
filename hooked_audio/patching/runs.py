"""The two unpatched runs every sweep starts from, and which of them is clean."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from torch import Tensor
from transformer_lens import ActivationCache

from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.checks import check_aligned, check_direction
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.streams.protocol import AudioStream, StreamInput


@dataclass
class BaseAndSource:
    """The base run (what every patched run starts from) and the source run (where patched
    activations come from), each with its logits and the cached activations a sweep needs.
    `denoise`: base = corrupt, source = clean; `noise`: the reverse."""

    direction: Direction
    base_logits: Tensor
    base_cache: Any
    source_logits: Tensor | None
    source_cache: Any

    @property
    def clean_logits(self) -> Tensor | None:
        return self.source_logits if self.direction == "denoise" else self.base_logits

    @property
    def corrupt_logits(self) -> Tensor | None:
        return self.base_logits if self.direction == "denoise" else self.source_logits

    def reference_values(self, metric: Callable) -> tuple[float, float]:
        """`(metric on the clean run, metric on the corrupt run)`."""
        clean, corrupt = self.clean_logits, self.corrupt_logits
        if clean is None or corrupt is None:
            raise ValueError(
                "The source run was not made here (its cache was given), so its metric is "
                "unknown: give the clean and corrupt metric values as `reference`."
            )
        return (
            metric_value(metric, clean, "on the clean run"),
            metric_value(metric, corrupt, "on the corrupt run"),
        )


def run_base_and_source(
    run_with_cache: Callable[..., tuple[Tensor, Any]],
    clean: Any,
    corrupt: Any,
    direction: Direction,
    base_names: Sequence[str],
    source_names: Sequence[str],
) -> BaseAndSource:
    """Run the base and source inputs once each, caching `base_names` / `source_names`.

    `run_with_cache(input, names_filter=...)`: a stream view's, or any function with that
    signature (e.g. one that unpacks keyword inputs for a whole model)."""
    check_direction(direction)
    base_input, source_input = base_and_source(direction, clean, corrupt)
    base_logits, base_cache = run_with_cache(base_input, names_filter=list(base_names))
    source_logits, source_cache = run_with_cache(source_input, names_filter=list(source_names))
    return BaseAndSource(direction, base_logits, base_cache, source_logits, source_cache)


#: what a sweep runs: `runs(base_names, source_names)` makes its base and source runs, caching
#: those hooks (local names) of each
SweepRuns = Callable[[Sequence[str], Sequence[str]], BaseAndSource]


def view_runs(
    view: AudioStream, clean: StreamInput, corrupt: StreamInput, direction: Direction
) -> SweepRuns:
    """The runs of a sweep between two inputs of one stream view (checked aligned)."""
    check_direction(direction)
    check_aligned(view, clean, corrupt)
    return partial(run_base_and_source, view.run_with_cache, clean, corrupt, direction)


def given_source(
    view: AudioStream, base_input: StreamInput, source_cache: ActivationCache, direction: Direction
) -> SweepRuns:
    """The runs of a sweep whose source activations the caller cached already (e.g. from
    another view of the same model): only `base_input` runs; the source logits are unknown
    (None), so the caller gives the clean and corrupt metric values."""
    check_direction(direction)

    def runs(base_names: Sequence[str], source_names: Sequence[str]) -> BaseAndSource:
        base_logits, base_cache = view.run_with_cache(base_input, names_filter=list(base_names))
        return BaseAndSource(direction, base_logits, base_cache, None, source_cache)

    return runs
