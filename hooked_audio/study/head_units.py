"""A study's per-head activations: each attention head's output in the encoder, and what each
decoder cross-attention head reads from the audio, one head and one cell of frames at a time.

`encoder_heads` patches the audio stream's `blocks.{l}.attn.hook_z` (the head's output before
the output projection) at the cell's frames, on any model family; `cross_heads` (Whisper)
patches `decoder.blocks.{l}.cross_attn.hook_k` and `hook_v` of one head at the cell's frames
(the keys and values that head computes from those frames of the encoder output), so the
decoder's other heads keep reading the base audio. Both run on
`hooked_audio.patching.head_sweep`, the engine every sweep shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from hooked_audio.models.family import ModelFamily
from hooked_audio.patching.directions import Direction, base_and_source
from hooked_audio.patching.head_integrated_gradients import head_integrated_gradients
from hooked_audio.patching.head_sweep import head_sweep
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.patching.verified import verify_top_head_cells
from hooked_audio.study.modes import ModeEngines, run_mode


@dataclass(frozen=True)
class HeadAct:
    """Where a study's head activation lives: the stack, its attention, the patched acts."""

    stack: str  # "audio" (the family's audio stream) or "text" (Whisper's decoder)
    component: str  # "attn" or "cross_attn"
    acts: tuple[str, ...]


HEAD_STUDY_ACTS = {
    "encoder_heads": HeadAct("audio", "attn", ("z",)),
    "cross_heads": HeadAct("text", "cross_attn", ("k", "v")),
}


def head_unit(
    family: ModelFamily,
    plan,
    act: str,
    direction: Direction,
    layers: list[int],
    reference: tuple[float, float],
    spec,
    bar: tqdm,
) -> SweepResult:
    """One pair's sweep of `act` over every head of `layers` and every cell of `plan.cells`.
    Cells are flattened head-major: cell `h * n_cells + c` is head `h` at cell `c`.
    `reference`: the pair's (clean, corrupt) metric values. By `spec.mode`: exact patching
    (`head_sweep`), integrated-gradients estimates (`head_integrated_gradients`, `spec.steps`),
    or those with the `spec.verify_top_k` largest cells patched exactly."""
    where = HEAD_STUDY_ACTS[act]
    names = [f"blocks.{layer}.{where.component}.hook_{a}" for layer in layers for a in where.acts]
    clean, corrupt = plan.frames(family)
    with torch.no_grad():
        if where.stack == "audio":
            view = family.audio_stream(plan.contrast)
            base, source = base_and_source(direction, clean, corrupt)
            _, source_cache = view.run_with_cache(source, names_filter=names)
            base_view, base_input = view, base
        else:  # the decoder's heads (Whisper's `text_stream`), input: the contrast's tokens
            tokens = plan.contrast.tokens
            base_audio, source_audio = base_and_source(direction, clean, corrupt)
            base_view = family.text_stream(base_audio)
            _, source_cache = family.text_stream(source_audio).run_with_cache(
                tokens, names_filter=names
            )
            base_input = tokens
    common = dict(
        component=where.component,
        act=where.acts,
        positions=plan.cells.cells,
        position_labels=plan.cells.labels,
    )
    args = (base_view, base_input, source_cache, plan.contrast.metric())

    def exact() -> SweepResult:
        with torch.no_grad():
            return head_sweep(
                *args,
                **common,
                layers=layers,
                direction=direction,
                reference_values=reference,
                progress=bar,
                batch_size=spec.batch_size,
            )

    return run_mode(
        spec,
        ModeEngines(
            exact=exact,
            estimate=lambda: head_integrated_gradients(
                *args,
                **common,
                layers=layers,
                direction=direction,
                reference_values=reference,
                steps=spec.steps,
                progress=False,
            ),
            verify=lambda estimate: verify_top_head_cells(
                *args,
                estimate,
                **common,
                top_k=spec.verify_top_k,
                batch_size=spec.batch_size,
                progress=False,
            ),
        ),
    )
