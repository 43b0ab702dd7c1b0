"""Whether two complete audio-LM inputs line up position by position (a sweep between them
patches position p of one into position p of the other)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

Inputs = Mapping[str, Tensor | None]


def check_aligned_inputs(model, clean: Inputs, corrupt: Inputs) -> None:
    """Clean and corrupt inputs must line up position by position."""
    for name in ("input_ids", "attention_mask"):
        a, b = clean.get(name), corrupt.get(name)
        if (a is None) != (b is None) or (a is not None and a.shape != b.shape):
            raise ValueError(
                f"Clean and corrupt {name} differ in shape "
                f"({None if a is None else tuple(a.shape)} "
                f"vs {None if b is None else tuple(b.shape)}). "
                "Position-wise patching needs the same "
                "prompt length: use prompts of the same token count and clips of the same duration."
            )
    audio_clean = model.audio_positions(clean["input_ids"])
    if not torch.equal(audio_clean, model.audio_positions(corrupt["input_ids"])):
        raise ValueError(
            "The audio placeholders sit at different positions in the clean and the "
            "corrupt prompt (clips of different durations, or different text before "
            "the audio). Pad or trim the clips to one duration and keep the text "
            "before the audio the same length."
        )
    mask = clean.get("attention_mask")
    if mask is not None and not torch.equal(mask, corrupt["attention_mask"]):
        raise ValueError("Clean and corrupt attention_mask differ: pad both prompts the same way.")
