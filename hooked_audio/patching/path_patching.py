"""Path patching: the effect of a sender that reaches a receiver along one path only.

Exact (no linearisation). `direct_path`: a sender (a head, or a block's attention /
cross-attention / MLP output) reaches the residual stream input of a later layer
`receiver_layer` directly, i.e. not through the blocks in between. The receiver's input is
the base run's residual stream plus (source - base) of the sender's output; the stack then
runs on from there. `receiver_layer = n_layers` means the stack's output (ln_final: the
logits on a text stack).

Across the two stacks of Whisper, `hooked_audio.models.whisper.audio_to_cross_heads`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hooked_audio.patching.cells import as_position_groups
from hooked_audio.patching.checks import as_index, check_aligned, check_layers
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import (
    HookSpec,
    as_metrics,
    collect_results,
    resume_name,
    sweep_cells,
)
from hooked_audio.patching.runs import run_base_and_source
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput

COMPONENTS = ("attn", "cross_attn", "mlp")
_OUTPUT_HOOKS = {
    "attn": "hook_attn_out",
    "cross_attn": "hook_cross_attn_out",
    "mlp": "hook_mlp_out",
}


@dataclass(frozen=True)
class Sender:
    """`component` of block `layer` ("attn", "cross_attn" or "mlp"); `head` for one head only."""

    layer: int
    component: str = "attn"
    head: int | None = None

    def __post_init__(self) -> None:
        if self.component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, got {self.component!r}.")
        object.__setattr__(self, "layer", as_index(self.layer, "Sender layer"))
        if self.head is not None:
            if self.component == "mlp":
                raise ValueError("An MLP has no heads; leave head=None.")
            object.__setattr__(self, "head", as_index(self.head, "Sender head"))

    def hooks(self) -> list[str]:
        if self.head is not None:
            return [f"blocks.{self.layer}.{self.component}.hook_z"]
        return [f"blocks.{self.layer}.{_OUTPUT_HOOKS[self.component]}"]

    def check(self, view: AudioStream) -> None:
        """Refuse a sender the view's stack does not have."""
        n_layers, n_heads = view.cfg.n_layers, view.cfg.n_heads
        if not 0 <= self.layer < n_layers:
            raise ValueError(f"Sender layer {self.layer} is outside the {n_layers} layers.")
        if self.head is not None and not 0 <= self.head < n_heads:
            raise ValueError(f"Sender head {self.head} is outside the {n_heads} heads.")
        if self.hooks()[0] not in view.hook_dict:
            raise ValueError(
                f"This stream has no {self.hooks()[0]!r}: is {self.component!r} "
                "an attention of this stack?"
            )

    def output(self, view: AudioStream, cache) -> Tensor:
        """What the sender writes to the residual stream `[batch, pos, d_model]`, in `cache`'s
        run."""
        name = self.hooks()[0]
        if self.head is None:
            return cache[name]
        attn = getattr(view.blocks[self.layer], self.component)
        return cache[name][:, :, self.head] @ attn.W_O[self.head]


@dataclass
class DirectPathPatch:
    """Adds (source - base) of a sender's output to the receiver's input. Sweep rows are the
    senders' layers, cells index `senders[layer]`."""

    view: AudioStream
    senders: dict[int, list[Sender]]
    receiver_layer: int
    position_mask: Tensor | None
    base_cache: object
    source_cache: object

    def resume_layer(self, layer: int) -> int:
        return self.receiver_layer

    def apply(
        self, layer: int, cells: list[int], resid: Tensor, rows: int
    ) -> tuple[Tensor, list[HookSpec]]:
        for k, cell in enumerate(cells):
            sender = self.senders[layer][cell]
            delta = sender.output(self.view, self.source_cache) - sender.output(
                self.view, self.base_cache
            )
            if self.position_mask is not None:
                delta = delta * self.position_mask[None, :, None]
            resid[k * rows : (k + 1) * rows] += delta
        return resid, []


def _path_sweep(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable,
    senders: dict[int, list[Sender]],
    labels: list[str],
    receiver_layer: int,
    direction: Direction,
    positions: Sequence[int] | None,
    act: str,
) -> SweepResult:
    metrics = as_metrics(metric)
    check_aligned(view, clean, corrupt)
    n_layers = view.cfg.n_layers
    receiver_layer = check_layers([receiver_layer], n_layers, allow_end=True)[0]
    for row in senders.values():
        for sender in row:
            sender.check(view)
            if not sender.layer < receiver_layer:
                raise ValueError(
                    f"The receiver layer must come after the sender's "
                    f"({sender.layer}) and be at most {n_layers} (the stack's "
                    f"output); got {receiver_layer}."
                )
    mask = None
    if positions is not None:
        n_pos = clean.shape[-1]
        mask = torch.zeros(n_pos, dtype=torch.bool)
        mask[as_position_groups([positions], n_pos)[0]] = True
    names = sorted({s.hooks()[0] for row in senders.values() for s in row})
    runs = run_base_and_source(
        view.run_with_cache,
        clean,
        corrupt,
        direction,
        names + [resume_name(view, receiver_layer)],
        names,
    )
    if mask is not None:
        mask = mask.to(runs.base_logits.device)
    patch = DirectPathPatch(view, senders, receiver_layer, mask, runs.base_cache, runs.source_cache)
    layers = sorted(senders)
    values = sweep_cells(
        view,
        runs.base_cache,
        patch,
        layers,
        len(labels),
        metrics,
        batch_size=1,
        progress=False,
        desc="direct paths",
        cell_names=labels,
    )
    return collect_results(
        metric,
        metrics,
        values,
        runs,
        layers=layers,
        cells=[[i] for i in range(len(labels))],
        cell_labels=labels,
        act=act,
        direction=direction,
    )


def direct_path(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    sender: Sender,
    receiver_layer: int,
    direction: Direction = "denoise",
    positions: Sequence[int] | None = None,
) -> SweepResult:
    """The metric when only `sender`'s direct contribution to `blocks.{receiver_layer}`'s
    input comes from the source run (all positions, or `positions`): a one-cell
    `SweepResult` (`.item()` is the number)."""
    label = "all heads" if sender.head is None else f"H{sender.head}"
    return _path_sweep(
        view,
        clean,
        corrupt,
        metric,
        {sender.layer: [sender]},
        [label],
        receiver_layer,
        direction,
        positions,
        f"{sender.component} -> blocks.{receiver_layer} (direct path)",
    )


def direct_path_head_sweep(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    receiver_layer: int,
    component: str = "attn",
    direction: Direction = "denoise",
) -> SweepResult:
    """`direct_path` for every head of every layer before `receiver_layer`: `[layer, head]`.
    The base and source runs are cached once for all heads."""
    receiver_layer = check_layers([receiver_layer], view.cfg.n_layers, allow_end=True)[0]
    n_heads = view.cfg.n_heads
    senders = {
        layer: [Sender(layer, component, h) for h in range(n_heads)]
        for layer in range(receiver_layer)
    }
    if not senders:
        raise ValueError("receiver_layer 0 has no earlier layer to send from.")
    return _path_sweep(
        view,
        clean,
        corrupt,
        metric,
        senders,
        [f"H{h}" for h in range(n_heads)],
        receiver_layer,
        direction,
        None,
        f"{component} heads -> blocks.{receiver_layer} (direct path)",
    )
