"""Argument checks shared by every engine: each argument that sizes or indexes work is
validated before any forward runs, with an error that names the problem and the fix."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from hooked_audio.patching.directions import DIRECTIONS

#: clean and corrupt clips whose speech lengths differ by more than this get a warning
DURATION_TOLERANCE_S = 0.1


def as_index(value: Any, what: str) -> int:
    """A Python int from an int-like value (int, numpy integer, integer 0-d tensor).

    Refuses bools (`True` is an int in Python: it would silently mean position 1), floats and
    anything else, naming `what` the value was meant to be."""
    if isinstance(value, bool) or (isinstance(value, Tensor) and value.dtype == torch.bool):
        raise TypeError(f"{what} must be an integer, got the bool {value!r}.")
    if isinstance(value, Tensor):
        if value.ndim != 0 or value.is_floating_point() or value.is_complex():
            raise TypeError(
                f"{what} must be an integer, got a tensor of dtype {value.dtype} "
                f"and shape {tuple(value.shape)}."
            )
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{what} must be an integer, got {type(value).__name__} {value!r}."
        ) from None


def check_layers(layers: Sequence[Any] | None, n_layers: int, allow_end: bool = False) -> list[int]:
    """`layers` as ints in `[0, n_layers)` (`[0, n_layers]` with `allow_end`); None = all."""
    if layers is None:
        return list(range(n_layers))
    if not hasattr(layers, "__iter__") or getattr(layers, "ndim", 1) == 0:
        layers = [layers]  # one layer
    out = [as_index(layer, "A layer") for layer in layers]
    if not out:
        raise ValueError("`layers` is empty: give at least one layer, or None for all.")
    top = n_layers + int(allow_end)
    bad = [layer for layer in out if not 0 <= layer < top]
    if bad:
        raise ValueError(
            f"Layers must lie in [0, {top}) for this {n_layers}-layer stack; "
            f"got {out} ({bad} outside)."
        )
    return out


def check_count(value: Any, name: str) -> int:
    """`value` if it is an integer >= 1 (a number of steps, cells, positions), else a
    ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return value


def check_unique(ids: Sequence, what: str) -> None:
    """A ValueError naming the repeated ones when `ids` (e.g. "Pair ids in a study") repeat."""
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{what} must be unique; repeated: {repeated}.")


def check_indices(values: Sequence[Any], size: int, what: str) -> list[int]:
    """`values` as distinct ints in `[0, size)` (bools, floats and repeats refused): the check
    for a list of features, heads or other indices, naming `what` they are."""
    chosen = [as_index(v, f"An entry of `{what}`") for v in values]
    if not chosen:
        raise ValueError(f"`{what}` is empty: give at least one.")
    bad = [i for i in chosen if not 0 <= i < size]
    if bad:
        raise ValueError(f"`{what}` must lie in [0, {size}); got {bad}.")
    check_unique(chosen, f"`{what}`")
    return chosen


def check_flags(**flags: Any) -> None:
    """Each keyword must be True or False (not 1, "yes" or None, which would read as a
    choice); a TypeError names the first that is not."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}.")


def check_batch_size(batch_size: Any, device: torch.device) -> int:
    """A positive int; None = 1 on a CPU (one forward already keeps the cores busy), 32 else."""
    if batch_size is None:
        return 1 if device.type == "cpu" else 32
    size = as_index(batch_size, "batch_size")
    if size <= 0:
        raise ValueError(f"batch_size must be a positive number of cells per forward, got {size}.")
    return size


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


def check_labels(labels: Sequence[Any] | None, n_cells: int) -> list[str] | None:
    """One label per cell, or None."""
    if labels is None:
        return None
    if isinstance(labels, str):
        raise TypeError("`labels` must be a sequence of strings, one per cell, not one string.")
    labels = [str(label) for label in labels]
    if len(labels) != n_cells:
        raise ValueError(f"{n_cells} cells but {len(labels)} labels: give one label per cell.")
    return labels


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
