"""Path patching: the effect of a sender that reaches a receiver along one path only.

Exact (no linearisation). `direct_path`: a sender (a head, or what one part of a block writes:
any of its attentions, or its MLP) reaches the residual stream input of a later layer
`receiver_layer` directly, i.e. not through the blocks in between. The receiver's input is
the base run's residual stream plus (source - base) of the sender's output; the stack then
runs on from there. `receiver_layer = n_layers` means the stack's output (ln_final: the
logits on a text stack).

From one stack into another (audio into a decoder through chosen heads' keys and values),
`head_sets.HeadSetPatch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import ActivationCache

from hooked_audio.checks import as_index, check_layers
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import as_position_groups
from hooked_audio.patching.checks import check_component
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import HookSpec, Patch, run_sweep
from hooked_audio.patching.runs import BaseAndSource, view_runs
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


@dataclass(frozen=True)
class Sender:
    """What part `component` of block `layer` writes to the residual stream: one of the
    view's `block_writers` (its attentions, "attn" first, or "mlp"); `head` for one head of an
    attention only. The view checks `component` (`check`)."""

    layer: int
    component: str = "attn"
    head: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.component, str) or not self.component:
            raise TypeError(f"component must be a block part's name, got {self.component!r}.")
        object.__setattr__(self, "layer", as_index(self.layer, "Sender layer"))
        if self.head is not None:
            if self.component == "mlp":
                raise ValueError("An MLP has no heads; leave head=None.")
            object.__setattr__(self, "head", as_index(self.head, "Sender head"))

    def hooks(self) -> list[str]:
        if self.head is not None:
            return [f"blocks.{self.layer}.{self.component}.hook_z"]
        return [f"blocks.{self.layer}.hook_{self.component}_out"]

    def check(self, view: AudioStream) -> None:
        """Refuse a sender the view's stack does not have."""
        check_component(view, self.component, writers=True)
        n_layers, n_heads = view.cfg.n_layers, view.cfg.n_heads
        if not 0 <= self.layer < n_layers:
            raise ValueError(f"Sender layer {self.layer} is outside the {n_layers} layers.")
        if self.head is not None and not 0 <= self.head < n_heads:
            raise ValueError(f"Sender head {self.head} is outside the {n_heads} heads.")
        if self.hooks()[0] not in view.hook_dict:
            raise ValueError(
                f"This stream has no {self.hooks()[0]!r}: cache the heads' outputs "
                "(hook_z) of this attention, or send its whole output (head=None)."
            )

    def output(
        self, view: AudioStream, cache: ActivationCache
    ) -> Float[Tensor, "batch pos d_model"]:
        """What the sender writes to the residual stream `[batch, pos, d_model]`, in `cache`'s
        run."""
        name = self.hooks()[0]
        if self.head is None:
            return cache[name]
        attn = getattr(view.blocks[self.layer], self.component)
        return cache[name][:, :, self.head] @ attn.W_O[self.head]


@dataclass
class DirectPathPatch(Patch):
    """Adds (source - base) of a sender's output to the receiver's input. Sweep rows are the
    senders' layers, cells index `senders[layer]`."""

    view: AudioStream
    senders: dict[int, list[Sender]]
    receiver_layer: int
    position_mask: Tensor | None

    def source_names(self, layers: Sequence[int]) -> list[str]:
        return sorted({s.hooks()[0] for layer in layers for s in self.senders[layer]})

    def base_names(self, layers: Sequence[int]) -> list[str]:
        return self.source_names(layers)

    def resume_layer(self, layer: int) -> int:
        return self.receiver_layer

    def apply(
        self,
        layer: int,
        cells: list[int],
        resid: Float[Tensor, "cell_rows pos d_model"],
        rows: int,
        runs: BaseAndSource,
    ) -> tuple[Float[Tensor, "cell_rows pos d_model"], list[HookSpec]]:
        for k, cell in enumerate(cells):
            sender = self.senders[layer][cell]
            delta = sender.output(self.view, runs.source_cache) - sender.output(
                self.view, runs.base_cache
            )
            if self.position_mask is not None:
                delta = delta * self.position_mask.to(delta.device)[None, :, None]
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
    batch_size: int | None = 1,
) -> SweepResult:
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
        mask = torch.zeros(n_pos, dtype=torch.bool, device=view.device)
        mask[as_position_groups([positions], n_pos)[0]] = True
    return run_sweep(
        view,
        view_runs(view, clean, corrupt, direction),
        DirectPathPatch(view, senders, receiver_layer, mask),
        sorted(senders),
        [[i] for i in range(len(labels))],
        labels,
        metric,
        resolve_batch_size(batch_size, view, clean, len(labels)),
        progress=False,
        desc="direct paths",
        act=act,
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
    batch_size: int | None = None,
) -> SweepResult:
    """`direct_path` for every head of every layer before `receiver_layer`: `[layer, head]`.
    The base and source runs are cached once for all heads; `batch_size` heads share a
    forward (None: 1 on a CPU, as many as the free memory holds on CUDA)."""
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
        batch_size,
    )
