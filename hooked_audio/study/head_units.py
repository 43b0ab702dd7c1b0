"""A study's per-head activations: each attention head's output in the encoder, and what each
decoder cross-attention head reads from the audio, one head and one cell of frames at a time.

`encoder_heads` patches `encoder.blocks.{l}.attn.hook_z` (the head's output before the output
projection) at the cell's frames; `cross_heads` patches `decoder.blocks.{l}.cross_attn.hook_k`
and `hook_v` of one head at the cell's frames (the keys and values that head computes from
those frames of the encoder output), so the decoder's other heads keep reading the base audio.
Both run on `hooked_audio.patching.head_sweep`, the engine every sweep shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.head_sweep import head_sweep
from hooked_audio.patching.sweep_result import SweepResult


@dataclass(frozen=True)
class HeadAct:
    """Where a study's head activation lives: the stack, its attention, the patched acts."""

    stack: str  # "encoder" or "decoder"
    component: str  # "attn" or "cross_attn"
    acts: tuple[str, ...]


HEAD_STUDY_ACTS = {
    "encoder_heads": HeadAct("encoder", "attn", ("z",)),
    "cross_heads": HeadAct("decoder", "cross_attn", ("k", "v")),
}


def head_layers(model, act: str) -> int:
    """How many layers the stack of a head activation has."""
    dims = model.dims
    return dims.n_audio_layer if HEAD_STUDY_ACTS[act].stack == "encoder" else dims.n_text_layer


@torch.no_grad()
def head_unit(
    model,
    plan,
    act: str,
    direction: Direction,
    layers: list[int],
    reference: tuple[float, float],
    batch_size: int | None,
    bar: tqdm,
) -> SweepResult:
    """One pair's sweep of `act` over every head of `layers` and every cell of `plan.cells`.
    Cells are flattened head-major: cell `h * n_cells + c` is head `h` at cell `c`.
    `reference`: the pair's (clean, corrupt) metric values."""
    where = HEAD_STUDY_ACTS[act]
    tokens = plan.contrast.tokens
    names = [f"blocks.{layer}.{where.component}.hook_{a}" for layer in layers for a in where.acts]
    if where.stack == "encoder":
        view = model.encoder_stream(tokens)
        base, source = base_and_source(direction, plan.clean, plan.corrupt)
        _, source_cache = view.run_with_cache(source, names_filter=names)
        base_view, base_input = view, base
    else:
        base_audio, source_audio = base_and_source(direction, plan.clean, plan.corrupt)
        base_view = model.decoder_stream(base_audio)
        _, source_cache = model.decoder_stream(source_audio).run_with_cache(
            tokens, names_filter=names
        )
        base_input = tokens
    return head_sweep(
        base_view,
        base_input,
        source_cache,
        plan.contrast.metric(),
        component=where.component,
        act=where.acts,
        layers=layers,
        direction=direction,
        reference_values=reference,
        progress=bar,
        batch_size=batch_size,
        positions=plan.cells.cells,
        position_labels=plan.cells.labels,
    )
