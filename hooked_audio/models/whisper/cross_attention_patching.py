"""Which decoder heads carry the audio? Cross-attention patching between two clips.

Whisper's decoder reads the audio only through cross-attention. These run the generic
engines on the decoder stream of each clip: `cross_attention_head_sweep` patches one head's
cross-attention activation at a time, `audio_to_cross_heads` lets the source audio reach the
decoder only through the keys and values of chosen heads (every other head keeps reading the
base audio), and `audio_to_cross_head_sets` does that for several sets of heads, batched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

import torch
from torch import Tensor

from hooked_audio.checks import check_labels
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.checks import check_direction, check_same_shape
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.engine import run_sweep
from hooked_audio.patching.head_sets import HeadSetPatch, check_head_sets, head_set_label
from hooked_audio.patching.head_sweep import head_sweep
from hooked_audio.patching.runs import run_base_and_source
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
def audio_to_cross_head_sets(
    model,
    clean_audio: Tensor,
    corrupt_audio: Tensor,
    tokens: Tensor,
    metric: Callable[[Tensor], Tensor],
    head_sets: Sequence[Sequence[tuple[int, int]]],
    direction: Direction = "denoise",
    labels: Sequence[str] | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> SweepResult:
    """`audio_to_cross_heads` for each set of `head_sets` (lists of (layer, head)), one cell a
    set, `batch_size` sets per forward (None: 1 on a CPU, as many as the free memory holds on
    CUDA). Cells hold each set's heads, labelled `L0H1+L2H3` (or `labels`); the one row is the
    deepest layer among the sets; `metadata["head_sets"]` lists them."""
    check_same_shape(clean_audio, corrupt_audio)
    check_direction(direction)
    views = {
        "clean": model.decoder_stream(clean_audio),
        "corrupt": model.decoder_stream(corrupt_audio),
    }
    base_view = base_and_source(direction, views["clean"], views["corrupt"])[0]
    head_sets = check_head_sets(base_view, head_sets)
    labels = check_labels(labels, len(head_sets)) or [head_set_label(s) for s in head_sets]
    runs = partial(
        run_base_and_source,
        lambda clip, names_filter: views[clip].run_with_cache(tokens, names_filter=names_filter),
        "clean",
        "corrupt",
        direction,
    )
    return run_sweep(
        base_view,
        runs,
        HeadSetPatch("cross_attn", ("k", "v"), head_sets),
        [max((layer for heads in head_sets for layer, _ in heads), default=0)],
        [[head for _, head in heads] for heads in head_sets],
        labels,
        metric,
        resolve_batch_size(batch_size, base_view, tokens, len(head_sets)),
        progress,
        "cross-attention head sets",
        act="audio -> cross_attn k/v (path)",
        metadata={"head_sets": head_sets},
    )


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
    result = audio_to_cross_head_sets(
        model, clean_audio, corrupt_audio, tokens, metric, [heads], direction
    )
    return replace(result, metadata={"heads": result.metadata["head_sets"][0]})
