"""Argument checks of the patching engines (directions, aligned clean and corrupt inputs, a
view's layer activations and components); the generic ones (counts, layers, indices, labels)
are in `hooked_audio.checks`."""

from __future__ import annotations

import warnings
from typing import Any

from torch import Tensor

from hooked_audio.patching.directions import DIRECTIONS

#: clean and corrupt clips whose speech lengths differ by more than this get a warning
DURATION_TOLERANCE_S = 0.1


def check_direction(direction: Any) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(
            f"direction must be 'denoise' (clean into corrupt: is it sufficient?) or "
            f"'noise' (corrupt into clean: is it necessary?), got {direction!r}."
        )


def check_same_shape(clean: Tensor, corrupt: Tensor) -> None:
    """Position-wise patching needs the clean and corrupt inputs aligned."""
    if tuple(clean.shape) != tuple(corrupt.shape):
        raise ValueError(
            f"Clean and corrupt inputs differ in shape: {tuple(clean.shape)} vs "
            f"{tuple(corrupt.shape)}. Patching by position needs them aligned: "
            "pad or trim to the same length (for recordings of different duration, "
            "`hooked_audio.corruptions.align_pair`)."
        )


def check_aligned(view: Any, clean: Tensor, corrupt: Tensor) -> None:
    """Equal shapes (else an error), and a warning when the view sees clips of different
    duration padded into equal windows."""
    check_same_shape(clean, corrupt)
    warn_if_durations_differ(view.input_seconds(clean), view.input_seconds(corrupt))


def warn_if_durations_differ(clean_seconds: float | None, corrupt_seconds: float | None) -> None:
    """Two clips padded separately into equal windows have equal shapes but their positions do
    not correspond: patching frame t then mixes different moments of speech."""
    if clean_seconds is None or corrupt_seconds is None:
        return
    if abs(clean_seconds - corrupt_seconds) > DURATION_TOLERANCE_S:
        warnings.warn(
            f"The clean clip lasts {clean_seconds:.2f} s and the corrupt one {corrupt_seconds:.2f} "
            "s: padded to one window, their 20 ms positions do not correspond, so a patch at "
            "position t mixes different moments of speech. Align them first with "
            "`hooked_audio.corruptions.align_pair(clean, corrupt)`.",
            stacklevel=3,
        )


def check_layer_act(view: Any, act: Any) -> str:
    """`act` if `blocks.{l}.hook_{act}` is one of the view's layer activations (`layer_acts`)."""
    acts = view.layer_acts
    if act not in acts:
        raise ValueError(
            f"act must be one of this stream's layer acts {acts}, got {act!r}: the stream has "
            f"no {f'blocks.0.hook_{act}'!r}."
        )
    return act


def check_component(view: Any, component: Any, writers: bool = False) -> str:
    """`component` if it is one of the view's attentions (with `writers`, any part of a block
    that writes to the residual stream, "mlp" included); None for its last attention (the
    one that reads another stack, where there is one)."""
    names = view.block_writers if writers else view.attention_names
    if component is None and not writers:
        return names[-1]
    if component not in names:
        raise ValueError(
            f"component must be one of this stream's {'block parts' if writers else 'attentions'} "
            f"{names}, got {component!r}."
        )
    return component
