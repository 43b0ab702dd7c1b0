"""Path patching: the effect of a sender that reaches a receiver along one path only.

Exact (no linearisation). `direct_path`: a sender (a head, or a block's attention / cross-attention /
  MLP output) reaches the residual stream input of a later layer `receiver_layer` directly,
  i.e. not through the blocks in between. The receiver's input is the base run's residual
  stream plus (source - base) of the sender's output; the stack then runs on from there.
  `receiver_layer = n_layers` means the stack's output (ln_final: the logits on the decoder).

Across the two stacks of Whisper, `hooked_audio.models.whisper.audio_to_cross_heads`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from hooked_audio.patching.directions import base_and_source
from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.sweep_result import SweepResult

COMPONENTS = ("attn", "cross_attn", "mlp")


@dataclass(frozen=True)
class Sender:
    """`component` of block `layer` ("attn", "cross_attn" or "mlp"); `head` for one head only."""

    layer: int
    component: str = "attn"
    head: Optional[int] = None

    def hooks(self) -> list[str]:
        if self.component not in COMPONENTS:
            raise ValueError(f"component must be one of {COMPONENTS}, got {self.component!r}.")
        if self.head is not None:
            if self.component == "mlp":
                raise ValueError("An MLP has no heads; leave head=None.")
            return [f"blocks.{self.layer}.{self.component}.hook_z"]
        out = {"attn": "hook_attn_out", "cross_attn": "hook_cross_attn_out", "mlp": "hook_mlp_out"}
        return [f"blocks.{self.layer}.{out[self.component]}"]

    def output(self, view, cache) -> Tensor:
        """What the sender writes to the residual stream `[batch, pos, d_model]`, in `cache`'s run."""
        name = self.hooks()[0]
        if self.head is None:
            return cache[name]
        attn = getattr(view.blocks[self.layer], self.component)
        return cache[name][:, :, self.head] @ attn.W_O[self.head]


def _receiver_hook(receiver_layer: int, n_layers: int) -> str:
    """Where the receiver's input is read: its `resid_pre`, or the last block's output."""
    return (f"blocks.{receiver_layer}.hook_resid_pre" if receiver_layer < n_layers
            else f"blocks.{n_layers - 1}.hook_resid_post")


def _run_both(view, clean: Tensor, corrupt: Tensor, direction: str, names: list[str],
              senders: list[Sender], receiver_layer: int):
    """Validate, then cache `names` in the base and source runs (once for any number of senders)."""
    n_layers = view.cfg.n_layers
    for sender in senders:
        if not sender.layer < receiver_layer <= n_layers:
            raise ValueError(f"The receiver layer must come after the sender's ({sender.layer}) "
                             f"and be at most {n_layers} (the stack's output); got {receiver_layer}.")
    if clean.shape != corrupt.shape:
        raise ValueError(f"Clean and corrupt inputs differ in shape: {tuple(clean.shape)} vs "
                         f"{tuple(corrupt.shape)}.")
    base_input, source_input = base_and_source(direction, clean, corrupt)
    base_logits, base_cache = view.run_with_cache(base_input, names_filter=names)
    source_logits, source_cache = view.run_with_cache(source_input, names_filter=names)
    return base_logits, base_cache, source_logits, source_cache


def _direct_path_value(view, base_cache, source_cache, metric, sender: Sender,
                       receiver_layer: int, positions: Optional[Sequence[int]]) -> float:
    resid = _receiver_hook(receiver_layer, view.cfg.n_layers)
    delta = sender.output(view, source_cache) - sender.output(view, base_cache)
    if positions is not None:
        mask = torch.zeros(delta.shape[1], dtype=torch.bool, device=delta.device)
        mask[list(positions)] = True
        delta = delta * mask[None, :, None]
    return metric_value(metric, view.resume_from(receiver_layer, base_cache[resid] + delta))


@torch.no_grad()
def direct_path(view, clean: Tensor, corrupt: Tensor, metric: Callable[[Tensor], Tensor],
                sender: Sender, receiver_layer: int, direction: str = "denoise",
                positions: Optional[Sequence[int]] = None) -> float:
    """The metric when only `sender`'s direct contribution to `blocks.{receiver_layer}`'s
    input comes from the source run (all positions, or `positions`)."""
    names = sender.hooks() + [_receiver_hook(receiver_layer, view.cfg.n_layers)]
    _, base_cache, _, source_cache = _run_both(view, clean, corrupt, direction, names, [sender],
                                               receiver_layer)
    return _direct_path_value(view, base_cache, source_cache, metric, sender, receiver_layer,
                              positions)


@torch.no_grad()
def direct_path_head_sweep(view, clean: Tensor, corrupt: Tensor, metric: Callable[[Tensor], Tensor],
                           receiver_layer: int, component: str = "attn",
                           direction: str = "denoise") -> SweepResult:
    """`direct_path` for every head of every layer before `receiver_layer`: `[layer, head]`.
    The base and source runs are cached once for all heads."""
    layers = list(range(receiver_layer))
    n_heads = view.cfg.n_heads
    senders = [[Sender(l, component, h) for h in range(n_heads)] for l in layers]
    names = [row[0].hooks()[0] for row in senders] + [_receiver_hook(receiver_layer, view.cfg.n_layers)]
    base_logits, base_cache, source_logits, source_cache = _run_both(
        view, clean, corrupt, direction, names, [row[0] for row in senders], receiver_layer)
    values = torch.tensor([[_direct_path_value(view, base_cache, source_cache, metric, sender,
                                               receiver_layer, None) for sender in row]
                           for row in senders])
    clean_logits, corrupt_logits = ((source_logits, base_logits) if direction == "denoise"
                                    else (base_logits, source_logits))
    return SweepResult(values=values, layers=layers, cells=[[h] for h in range(n_heads)],
                       cell_labels=[f"H{h}" for h in range(n_heads)],
                       act=f"{component} heads -> blocks.{receiver_layer} (direct path)",
                       direction=direction, clean_value=metric_value(metric, clean_logits),
                       corrupt_value=metric_value(metric, corrupt_logits))
