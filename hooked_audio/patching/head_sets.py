"""Patching sets of heads together: each cell is a set of (layer, head)s, patched at once.

A head sweep patches one head per run. Some questions need several heads at once, across
layers: through which heads' keys and values does the other stack's input reach a decoder?
(`hooked_audio.models.whisper.audio_to_cross_heads` patches a set of cross-attention heads'
keys and values from the run on the source audio.) Every cell's run resumes at the
shallowest layer any cell patches, from the cached base run; a chunk of cells shares one
batched forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor

from hooked_audio.checks import as_index
from hooked_audio.patching.engine import HookSpec, Patch
from hooked_audio.patching.head_sweep import head_index
from hooked_audio.patching.runs import BaseAndSource
from hooked_audio.streams.protocol import AudioStream, NamedHook

HeadSet = list[tuple[int, int]]


def check_head_sets(view: AudioStream, head_sets: Sequence[Sequence[tuple[int, int]]]) -> list:
    """Each set as a list of `(layer, head)` ints inside the view's stack."""
    if isinstance(head_sets, (str, bytes)) or not hasattr(head_sets, "__iter__"):
        raise TypeError("head_sets must be a sequence of sets of (layer, head) pairs.")
    n_layers, n_heads = view.cfg.n_layers, view.cfg.n_heads
    checked = []
    for heads in head_sets:
        one = [
            (as_index(layer, "A head's layer"), as_index(head, "A head")) for layer, head in heads
        ]
        for layer, head in one:
            if not (0 <= layer < n_layers and 0 <= head < n_heads):
                raise ValueError(
                    f"Head ({layer}, {head}) is outside {n_layers} layers x {n_heads} heads."
                )
        checked.append(one)
    if not checked:
        raise ValueError("head_sets is empty: give at least one set of (layer, head)s.")
    return checked


def head_set_label(heads: HeadSet) -> str:
    """`L0H1+L2H3`, or "no heads" for the empty set."""
    return "+".join(f"L{layer}H{head}" for layer, head in heads) or "no heads"


@dataclass
class HeadSetPatch(Patch):
    """Each cell: the heads of one set (`cells[c]`, `(layer, head)`s) at every position of
    `blocks.{layer}.{component}.hook_{act}` for each act in `acts`, from the source run. The
    sweep has one row (any layer: the cells say which layers they patch)."""

    component: str
    acts: tuple[str, ...]
    cells: list[HeadSet]

    def layers(self) -> list[int]:
        return sorted({layer for heads in self.cells for layer, _ in heads})

    def source_names(self, layers: Sequence[int]) -> list[str]:
        return [
            f"blocks.{layer}.{self.component}.hook_{a}"
            for layer in self.layers()
            for a in self.acts
        ]

    def resume_layer(self, layer: int) -> int:
        return min(self.layers(), default=layer)

    def apply(
        self,
        layer: int,
        cells: list[int],
        resid: Float[Tensor, "cell_rows pos d_model"],
        rows: int,
        runs: BaseAndSource,
    ) -> tuple[Float[Tensor, "cell_rows pos d_model"], list[HookSpec]]:
        def hook_for(at: int, act: str) -> HookSpec:
            name = f"blocks.{at}.{self.component}.hook_{act}"
            source = runs.source_cache[name]
            heads = [[h for at_layer, h in self.cells[c] if at_layer == at] for c in cells]

            def patch(activation: Tensor, hook: NamedHook) -> Tensor:
                activation = activation.clone()
                for k, chosen in enumerate(heads):
                    if chosen:
                        index = head_index(act, chosen, None)
                        activation[k * rows : (k + 1) * rows][index] = source[index]
                return activation

            return name, patch

        touched = sorted({at for c in cells for at, _ in self.cells[c]})
        return resid, [hook_for(at, act) for at in touched for act in self.acts]
