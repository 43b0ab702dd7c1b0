"""Layer sweeps: patch one activation of every layer at each cell, TransformerLens's
`get_act_patch_*` numbers at a fraction of the compute.

TransformerLens's loop re-runs the whole model for every (layer, cell). Patching block `l`
leaves everything before it as in the base run, so each patched run resumes at `l` from one
cached base run (see `engine.py`); on the decoder stream the audio is encoded once by the
view. Several cells can share one batched forward (`batch_size`), which pays off on a GPU;
on a 2-core CPU a batch-1 forward already keeps the cores busy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.checks import check_layers
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import Cells, labelled_position_groups
from hooked_audio.patching.checks import check_layer_act
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import HookSpec, Metric, Patch, run_sweep
from hooked_audio.patching.runs import BaseAndSource, view_runs
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def copy_positions(
    target: Float[Tensor, "cell_rows pos d_model"],
    source: Float[Tensor, "rows pos d_model"],
    groups: list[list[int]],
    rows: int,
) -> Float[Tensor, "cell_rows pos d_model"]:
    """Copy `source[:, group]` into rows `k * rows : (k + 1) * rows` of `target` for the k-th
    group (in place; returns `target`)."""
    for k, group in enumerate(groups):
        target[k * rows : (k + 1) * rows, group] = source[:, group]
    return target


@dataclass
class LayerActPatch(Patch):
    """`blocks.{l}.hook_{act}` with the cells' positions from the source run; subclasses say
    which positions (`replace`). `resid_pre` changes the residual stream the run resumes
    from, any other act is replaced by its hook."""

    act: str

    def source_names(self, layers: Sequence[int]) -> list[str]:
        return [f"blocks.{layer}.hook_{self.act}" for layer in layers]

    def replace(
        self,
        x: Float[Tensor, "cell_rows pos d_model"],
        source: Float[Tensor, "rows pos d_model"],
        cells: list[int],
        rows: int,
    ) -> Float[Tensor, "cell_rows pos d_model"]:
        """`x` (the cells stacked, `rows` rows each) with each cell's positions from `source`."""
        raise NotImplementedError

    def apply(
        self,
        layer: int,
        cells: list[int],
        resid: Float[Tensor, "cell_rows pos d_model"],
        rows: int,
        runs: BaseAndSource,
    ) -> tuple[Float[Tensor, "cell_rows pos d_model"], list[HookSpec]]:
        name = f"blocks.{layer}.hook_{self.act}"
        source = runs.source_cache[name]
        if self.act == "resid_pre":
            return self.replace(resid, source, cells, rows), []
        return resid, [(name, lambda x, hook: self.replace(x, source, cells, rows))]


@dataclass
class ActivationPatch(LayerActPatch):
    """`blocks.{l}.hook_{act}` at a group of positions per cell, from the source run."""

    groups: list[list[int]]

    def replace(
        self,
        x: Float[Tensor, "cell_rows pos d_model"],
        source: Float[Tensor, "rows pos d_model"],
        cells: list[int],
        rows: int,
    ) -> Float[Tensor, "cell_rows pos d_model"]:
        return copy_positions(x.clone(), source, [self.groups[c] for c in cells], rows)


def layer_sweep(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Metric,
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Cells | None = None,
    batch_size: int | None = None,
    progress: bool | tqdm = True,
    labels: Sequence[str] | None = None,
) -> SweepResult | dict[str, SweepResult]:
    """Patch `blocks.{l}.hook_{act}` at each cell (a position or group of positions).

    `view` is a stream view (`model.encoder_stream(tokens)` with framed audio inputs,
    `model.decoder_stream(audio)` with token inputs, ...); `clean` / `corrupt` are its inputs.
    `direction="denoise"` runs the corrupt input with clean activations patched in;
    `"noise"` the reverse. `act` is one of the view's `layer_acts` (a decoder that reads
    another stack also has its cross-attention's). Equal to TransformerLens's loop (tested to
    1e-4).

    `progress`: show a bar, or a `tqdm` bar to advance (one bar over several sweeps).
    `cells`: None (every position), or positions / lists of positions / slices, e.g. from
    `hooked_audio.patching.time_cells`; `labels` names them (default: the view's labels,
    times on an audio stream). `metric` may be a mapping of names to metrics: all are
    evaluated on every patched run, and a dict of `SweepResult`s comes back.
    """
    act = check_layer_act(view, act)
    layers = check_layers(layers, view.cfg.n_layers)
    groups, labels = labelled_position_groups(view, cells, labels, clean.shape[-1])
    return run_sweep(
        view,
        view_runs(view, clean, corrupt, direction),
        ActivationPatch(act, groups),
        layers,
        groups,
        labels,
        metric,
        resolve_batch_size(batch_size, view, clean, len(groups)),
        progress,
        f"{act} sweep",
        cell_seconds=view.cell_seconds(groups),
        act=act,
    )


def resid_pre_sweep(
    view: AudioStream, clean: StreamInput, corrupt: StreamInput, metric: Metric, **kwargs: Any
) -> SweepResult | dict[str, SweepResult]:
    """`layer_sweep` of `blocks.{l}.hook_resid_pre` (see there for the arguments)."""
    return layer_sweep(view, clean, corrupt, metric, act="resid_pre", **kwargs)
