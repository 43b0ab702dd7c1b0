"""Denoising and noising: the two directions of activation patching, named.

- `denoise`: run the CORRUPT input and patch in CLEAN activations. A large recovery means the
  patched activations are *sufficient* (together with the rest of the corrupt run) to restore
  the clean behaviour.
- `noise`: run the CLEAN input and patch in CORRUPT activations. A large drop means the
  patched activations are *necessary* for the clean behaviour.

They disagree exactly where circuits are redundant or conjunctive. In an OR circuit (two
paths, either suffices) noising one path shows nothing, since the other still carries the
answer, while denoising one path recovers everything. In an AND circuit (both paths needed)
denoising one path recovers nothing, while noising either path breaks the output. Use both
when you can; see docs/patching.md.
"""

from __future__ import annotations

from typing import Literal, TypeVar

Direction = Literal["denoise", "noise"]
DIRECTIONS: tuple[Direction, ...] = ("denoise", "noise")

T = TypeVar("T")


def base_and_source(direction: Direction, clean: T, corrupt: T) -> tuple[T, T]:
    """`(input the run starts from, input whose activations are patched in)`."""
    if direction == "denoise":
        return corrupt, clean
    if direction == "noise":
        return clean, corrupt
    raise ValueError(
        f"direction must be 'denoise' (clean into corrupt: is it sufficient?) or "
        f"'noise' (corrupt into clean: is it necessary?), got {direction!r}."
    )
