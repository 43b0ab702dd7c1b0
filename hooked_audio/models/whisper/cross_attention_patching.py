"""Which decoder heads carry the audio? Cross-attention patching between two clips.

Whisper's decoder reads the audio only through cross-attention. These run the generic
engines on the decoder stream of each clip: `cross_attention_head_sweep` patches one head's
cross-attention activation at a time, `audio_to_cross_heads` lets the source audio reach the
decoder only through the keys and values of chosen heads (every other head keeps reading the
base audio).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.checks import as_index, check_direction, check_same_shape
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.head_sweep import head_sweep
from hooked_audio.patching.runs import BaseAndSource
from hooked_audio.patching.sweep_result import SweepResult


@torch.no_grad()
def cross_attention_head_sweep(
    model,
    clean_audio: Tensor,
    corrupt_audio: Tensor,
    tokens: Tensor,
    metric: Callable[[Tensor], Tensor],
    act: str = "z",
    direction: Direction = "denoise",
    by_pos: bool = False,
    progress: bool = True,
) -> SweepResult:
    """Which decoder heads carry the audio difference? Patch each cross-attention head between
    the clean- and corrupt-audio runs (same tokens), in either direction."""
    check_same_shape(clean_audio, corrupt_audio)
    check_direction(direction)
    clean_view, corrupt_view = (
        model.decoder_stream(clean_audio),
        model.decoder_stream(corrupt_audio),
    )
    base_view, source_view = base_and_source(direction, clean_view, corrupt_view)
    _, source_cache = source_view.run_with_cache(
        tokens, names_filter=lambda n: n.endswith(f"cross_attn.hook_{act}")
    )
    reference = (
        metric_value(metric, clean_view(tokens)),
        metric_value(metric, corrupt_view(tokens)),
    )
    return head_sweep(
        base_view,
        tokens,
        source_cache,
        metric,
        "cross_attn",
        act,
        by_pos,
        direction=direction,
        reference_values=reference,
        progress=progress,
    )


@torch.no_grad()
def audio_to_cross_heads(
    model,
    clean_audio: Tensor,
    corrupt_audio: Tensor,
    tokens: Tensor,
    metric: Callable[[Tensor], Tensor],
    heads: Sequence[tuple[int, int]],
    direction: Direction = "denoise",
) -> SweepResult:
    """The metric when the source audio reaches the decoder only through the cross-attention
    keys and values of `heads` (a list of (layer, head)); every other head reads the base
    audio. A one-cell `SweepResult` (`.item()` is the number) labelled with the heads; its
    one layer is the deepest layer among `heads`, `metadata["heads"]` lists them."""
    check_same_shape(clean_audio, corrupt_audio)
    check_direction(direction)
    base_audio, source_audio = base_and_source(direction, clean_audio, corrupt_audio)
    base_view, source_view = model.decoder_stream(base_audio), model.decoder_stream(source_audio)
    n_layers, n_heads = base_view.cfg.n_layers, base_view.cfg.n_heads
    heads = [(as_index(layer, "A head's layer"), as_index(head, "A head")) for layer, head in heads]
    for layer, head in heads:
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(
                f"Head ({layer}, {head}) is outside {n_layers} layers x {n_heads} heads."
            )
    names = sorted({f"blocks.{layer}.cross_attn.hook_{kv}" for layer, _ in heads for kv in "kv"})
    source_logits, source_cache = source_view.run_with_cache(tokens, names_filter=names)

    def hook_for(name: str, head_list: list[int]):
        def patch(activation: Tensor, hook) -> Tensor:
            activation = activation.clone()
            activation[:, :, head_list] = source_cache[name][:, :, head_list]
            return activation

        return patch

    fwd_hooks = [
        (name, hook_for(name, [h for l, h in heads if name.startswith(f"blocks.{l}.")]))
        for name in names
    ]
    patched = metric_value(
        metric,
        base_view.run_with_hooks(tokens, fwd_hooks=fwd_hooks),
        "with the chosen heads patched",
    )
    runs = BaseAndSource(direction, base_view(tokens), None, source_logits, source_cache)
    clean_value, corrupt_value = runs.reference_values(metric)
    label = "+".join(f"L{layer}H{head}" for layer, head in heads) or "no heads"
    return SweepResult(
        values=torch.tensor([[patched]]),
        layers=[max((layer for layer, _ in heads), default=0)],
        cells=[[head for _, head in heads]],
        cell_labels=[label],
        act="audio -> cross_attn k/v (path)",
        direction=direction,
        clean_value=clean_value,
        corrupt_value=corrupt_value,
        metadata={"heads": heads},
    )
