"""`AudioStream`: everything the engines in `hooked_audio.patching` call on a stream view.

It is TransformerLens's own model protocol (`cfg`, `run_with_cache`, `run_with_hooks`,
`to_tokens`), which is all `transformer_lens.patching` needs, plus what the fast engines need
to resume a run part-way and to label their cells. A model family supports every engine by
giving each of its stacks a view that satisfies it; `StreamView.__init__` checks that, so a
view that lacks a method fails when it is made, not at the end of a sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, Union, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.config import TransformerLensConfig

from hooked_audio.cache_memory import StackExtent

#: A stream's input: framed audio whose last axis is the 20 ms position, or token ids.
StreamInput = Union[Float[Tensor, "batch *frame pos"], Int[Tensor, "batch pos"]]
#: What a view runs on: a stream input, or token ids as a 1-d tensor or a list (one sequence) or
#: a list of equal-length lists (a batch), which a text stack makes `[batch, pos]`
ViewInput = Union[StreamInput, Int[Tensor, " pos"], Sequence[int], Sequence[Sequence[int]]]

#: the members `check_stream` looks for (a runtime-checkable Protocol checks presence only)
STREAM_MEMBERS = (
    "cfg",
    "model",
    "blocks",
    "ln_final",
    "hook_dict",
    "device",
    "causal",
    "qk_hook_names",
    "attention_names",
    "block_writers",
    "layer_acts",
    "run_with_cache",
    "run_with_hooks",
    "hooks",
    "to_tokens",
    "resume_from",
    "cell_seconds",
    "cell_labels",
    "query_key",
    "key_heads",
    "input_seconds",
    "cache_extent",
)


@runtime_checkable
class AudioStream(Protocol):
    """One stack of a hooked model, presented as a one-stack TransformerLens model.

    Running:
        `view(x)` / `run_with_hooks(x, fwd_hooks=...)` / `run_with_cache(x, names_filter=...)`:
        one positional input whose last axis is the position (20 ms frames on audio stacks,
        tokens on text stacks), the other inputs of the model bound when the view was made.
        Hook names are local: `blocks.{l}.hook_resid_pre`, as on a one-stack model.
        `resume_from(layer, resid_pre)`: the output when block `layer` receives `resid_pre`
        (exactly what the full forward computes from there; later hooks fire). The input may
        hold a whole number of copies of the bound batch, stacked: the fast engines batch
        cells that way. `layer == cfg.n_layers` runs only what follows the last block.

    Labelling cells (a cell = a list of positions patched together):
        `cell_seconds(groups)`: `(start, end)` seconds per cell, or None on a text stack;
        `cell_labels(groups)`: one string per cell.
        `input_seconds(x)`: seconds of real audio in an input before its padding, or None
        (sweeps warn when clean and corrupt differ: their positions do not correspond).
        `cache_extent(x)`: the sizes of the stack's activations for input `x`, from which
        `run_with_cache` and `batch_size=None` estimate memory.

    Attention internals (AtP*'s QK fix):
        `qk_hook_names`: the local hook names (within `blocks.{l}.attn.`) holding the queries
        and keys the pattern is computed from; `query_key(layer, resid_pre)` recomputes them
        `[batch, pos, head, d_head]`; `key_heads(layer, k)` repeats grouped keys per query
        head; `causal`: whether the stack's self-attention is causal.

    What a block holds (the engines take activation names from these, never from a model):
        `attention_names`: the block's attentions (`("attn",)`, or `("attn", "cross_attn")`
        on a decoder that reads another stack); `block_writers`: those and "mlp", part `p`
        writing `blocks.{l}.hook_{p}_out`; `layer_acts`: the `act`s of the
        `blocks.{l}.hook_{act}` `[batch, pos, d_model]` activations a layer sweep patches.
    """

    model: Any
    causal: bool
    qk_hook_names: tuple[str, str]
    attention_names: tuple[str, ...]

    @property
    def block_writers(self) -> tuple[str, ...]: ...

    @property
    def layer_acts(self) -> tuple[str, ...]: ...

    @property
    def cfg(self) -> TransformerLensConfig: ...

    @property
    def blocks(self) -> torch.nn.ModuleList: ...

    @property
    def ln_final(self) -> torch.nn.Module: ...

    @property
    def hook_dict(self) -> dict: ...

    @property
    def device(self) -> torch.device: ...

    def __call__(self, x: ViewInput) -> Tensor: ...

    def run_with_cache(self, x: ViewInput, names_filter: Any = None, **kwargs: Any) -> tuple: ...

    def run_with_hooks(
        self, x: ViewInput, fwd_hooks: Sequence = (), bwd_hooks: Sequence = (), **kwargs: Any
    ) -> Tensor: ...

    def hooks(
        self, fwd_hooks: Sequence = (), bwd_hooks: Sequence = (), **kwargs: Any
    ) -> AbstractContextManager: ...

    def to_tokens(self, *args: Any, **kwargs: Any) -> Tensor: ...

    def resume_from(self, layer: int, resid_pre: Float[Tensor, "batch pos d_model"]) -> Tensor: ...

    def cell_seconds(self, groups: list[list[int]]) -> list[tuple[float, float]] | None: ...

    def cell_labels(self, groups: list[list[int]]) -> list[str]: ...

    def input_seconds(self, x: Tensor) -> float | None: ...

    def cache_extent(self, x: ViewInput) -> StackExtent: ...

    def query_key(self, layer: int, resid_pre: Tensor) -> tuple[Tensor, Tensor]: ...

    def key_heads(self, layer: int, k: Tensor) -> Tensor: ...


@runtime_checkable
class NamedHook(Protocol):
    """What a hook function receives as `hook` when it runs through a view: the hook point
    under the view's local `name` (`blocks.3.hook_resid_pre`; see `streams.view.LocalHookName`)."""

    name: str


def check_stream(view: Any) -> None:
    """Refuse a view that lacks a member of `AudioStream`, naming what is missing."""
    cls = type(view)
    missing = [
        name
        for name in STREAM_MEMBERS
        if not hasattr(cls, name) and name not in getattr(view, "__dict__", {})
    ]
    if missing:
        raise TypeError(
            f"{cls.__name__} is not an AudioStream: it lacks {', '.join(missing)}. "
            "See hooked_audio/streams/protocol.py for what each member does."
        )
