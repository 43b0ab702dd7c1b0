"""Feature sweeps: patch single SAE features at each cell (a frame, a word, a window).

With an SAE spliced into the model (`model.add_sae(sae, use_error_term=True)`) its feature
activations are a hook point like any other (`blocks.{l}.<hook>.hook_sae_acts_post` on a
stream view). A feature sweep copies one feature's activation at one cell from the source run
into the base run, for each (feature, cell), on the same engine as the layer sweeps: each
patched run resumes at the SAE's block from the cached base run. With the error term kept,
patching a feature changes the activation by exactly that feature's decoded difference, and
nothing else.

The result is a `SweepResult` whose rows are features (`row_name="feature"`, `layers` holds the
feature ids), so it plots, normalises and tabulates like a layer sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.checks import check_count, check_indices
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import Cells, labelled_position_groups
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import HookSpec, Metric, Patch, run_sweep
from hooked_audio.patching.runs import BaseAndSource, view_runs
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, NamedHook, StreamInput

FEATURES = "hook_sae_acts_post"


@dataclass
class FeaturePatch(Patch):
    """One SAE feature at a group of positions, from the source run's feature activations.
    Sweep rows are feature ids."""

    name: str  # local name of the features hook
    layer: int  # the block holding the spliced hook
    groups: list[list[int]]

    def source_names(self, features: Sequence[int]) -> list[str]:
        return [self.name]

    def resume_layer(self, feature: int) -> int:
        return self.layer

    def apply(
        self,
        feature: int,
        cells: list[int],
        resid: Float[Tensor, "cell_rows pos d_model"],
        rows: int,
        runs: BaseAndSource,
    ) -> tuple[Float[Tensor, "cell_rows pos d_model"], list[HookSpec]]:
        groups, source = [self.groups[c] for c in cells], runs.source_cache[self.name]

        def patch(acts: Tensor, hook: NamedHook) -> Tensor:
            acts = acts.clone()
            for k, group in enumerate(groups):
                acts[k * rows : (k + 1) * rows, group, feature] = source[:, group, feature]
            return acts

        return resid, [(self.name, patch)]


def features_hook(view: AudioStream, hook: str) -> tuple[str, int]:
    """The local name of the features of the SAE spliced at `hook`, and its block."""
    name = f"{hook}.{FEATURES}"
    if name not in view.hook_dict:
        if hook not in view.hook_dict:
            raise KeyError(f"{hook!r} is not a hook point of this stream.")
        raise ValueError(
            f"No SAE is spliced at {hook!r} in this view: splice one "
            "(model.add_sae(sae, use_error_term=True)) and make the stream view again."
        )
    splice = view.hook_dict[hook]
    if not getattr(splice, "use_error_term", False):
        raise ValueError(
            f"The SAE at {hook!r} was spliced without its error term, so the runs would not "
            "be the model's: splice it with use_error_term=True for a feature sweep."
        )
    fields = hook.split(".")
    if len(fields) < 3 or fields[0] != "blocks" or not fields[1].isdigit():
        raise ValueError(f"{hook!r} is not inside a block (blocks.{{l}}....).")
    return name, int(fields[1])


def top_changed_features(
    view: AudioStream, clean: StreamInput, corrupt: StreamInput, hook: str, n: int
) -> list[int]:
    """The `n` features whose activations differ most between the clean and corrupt runs
    (summed |difference| over positions): the candidates a feature sweep starts with."""
    name, _ = features_hook(view, hook)
    check_count(n, "n")
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(clean, names_filter=[name])
        _, corrupt_cache = view.run_with_cache(corrupt, names_filter=[name])
    change = (clean_cache[name] - corrupt_cache[name]).abs().sum(dim=(0, 1))
    return [int(f) for f in change.argsort(descending=True)[: min(n, len(change))]]


def feature_sweep(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Metric,
    hook: str,
    features: Sequence[int] | int = 8,
    direction: Direction = "denoise",
    cells: Cells | None = None,
    batch_size: int | None = None,
    progress: bool | tqdm = True,
    labels: Sequence[str] | None = None,
) -> SweepResult | dict[str, SweepResult]:
    """Patch each of `features` of the SAE spliced at `hook` (a local name on `view`, e.g.
    `blocks.2.hook_resid_post`) at each cell; `features`: feature ids, or a number n for the n
    features that differ most between the runs (`top_changed_features`). Other arguments as
    `layer_sweep`. Values `[feature, cell]`; `result.layers` holds the feature ids."""
    runs = view_runs(view, clean, corrupt, direction)
    name, layer = features_hook(view, hook)
    if isinstance(features, int):
        features = top_changed_features(view, clean, corrupt, hook, features)
    features = check_indices(list(features), view.hook_dict[hook].sae.cfg.d_sae, "features")
    groups, labels = labelled_position_groups(view, cells, labels, clean.shape[-1])
    return run_sweep(
        view,
        runs,
        FeaturePatch(name, layer, groups),
        features,
        groups,
        labels,
        metric,
        resolve_batch_size(batch_size, view, clean, len(groups)),
        progress,
        "feature sweep",
        cell_seconds=view.cell_seconds(groups),
        act=hook + "." + FEATURES,
        row_name="feature",
    )
