"""`AudioHookPoint`: TransformerLens's `HookPoint`, aware of nested stacks, refusing hooks that
change an activation's shape, dtype or device.

TransformerLens's `HookPoint.layer()` reads the layer from the second dot-separated
field (`blocks.3.attn.hook_z` -> 3). In a two-stack model the names are
`encoder.blocks.3...` and `decoder.blocks.3...`, where that rule returns the
wrong field; this subclass takes the first integer field instead.

A hook that returns a tensor of another shape (`lambda x, hook: x[:, :1]`), dtype or device
than the one it received would make the rest of the forward run on something else, often
without any error (an encoder run on one frame). Every hook added here is wrapped so that such
a return raises, naming the hook point; returning None (no change) is always fine.
Everything else (hook registration, contexts, levels) is TransformerLens's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import Tensor
from transformer_lens.hook_points import HookPoint, LensHandle


def _describe(tensor: Any) -> str:
    return f"{tuple(tensor.shape)} {tensor.dtype} on {tensor.device}"


class HookReturnError(ValueError):
    """A hook function returned something other than None or a tensor like its input."""


class CheckedHook:
    """A user hook function, called as TransformerLens calls it, whose return value must be
    None or a tensor of the received tensor's shape, dtype and device."""

    __slots__ = ("fn", "direction")

    def __init__(self, fn: Callable, direction: str):
        self.fn, self.direction = fn, direction

    def __call__(self, tensor: Tensor, hook: Any) -> Any:
        result = self.fn(tensor, hook=hook)
        if result is None or result is tensor:
            return result
        checked = result[0] if isinstance(result, tuple) and len(result) == 1 else result
        if (
            isinstance(checked, Tensor)
            and checked.shape == tensor.shape
            and checked.dtype == tensor.dtype
            and checked.device == tensor.device
        ):
            return result
        raise HookReturnError(self._message(tensor, checked, hook))

    def _message(self, tensor: Any, result: Any, hook: Any) -> str:
        what = "activation" if self.direction == "fwd" else "gradient"
        where = f"The {self.direction} hook {self!r} at {getattr(hook, 'name', None)!r}"
        if not isinstance(result, Tensor):
            return (
                f"{where} returned a {type(result).__name__} object; a hook returns None (the "
                f"{what} unchanged, e.g. after editing it in place) or a tensor shaped like "
                f"the {what} it received, {_describe(tensor)}."
            )
        fixes = []
        if result.shape != tensor.shape:
            fixes.append(
                "to change some positions, write into them (`x[:, 5:] = 0`) and "
                "return x instead of a slice"
            )
        if result.dtype != tensor.dtype:
            fixes.append(f"cast back with `.to({tensor.dtype})`")
        if result.device != tensor.device:
            fixes.append(f"move it back with `.to('{tensor.device}')`")
        return (
            f"{where} returned a tensor {_describe(result)}, but the {what} it received is "
            f"{_describe(tensor)}; the rest of the forward would run on the wrong thing. "
            f"A hook must return None or a tensor of the same shape, dtype and device: "
            f"{'; '.join(fixes)}."
        )

    def __repr__(self) -> str:
        # partial.__repr__ can be very slow when it binds large tensors (TransformerLens
        # avoids it for the same reason).
        if isinstance(self.fn, partial):
            return f"partial({self.fn.func!r},...)"
        return repr(self.fn)


class AudioHookPoint(HookPoint):
    """A `HookPoint` whose `layer()` works for `encoder.blocks.{l}` / `decoder.blocks.{l}` names
    and whose hooks must return None or a tensor like the one they received."""

    def add_hook(self, hook: Callable, dir: str = "fwd", *args: Any, **kwargs: Any) -> LensHandle:
        if not callable(hook):
            raise TypeError(
                f"The {dir} hook given for {self.name!r} is a {type(hook).__name__}, not a "
                "function: pass a function (activation, hook) -> None or a tensor like the "
                "activation, e.g. (name, lambda x, hook: x * 0)."
            )
        handle = super().add_hook(CheckedHook(hook, dir), dir, *args, **kwargs)
        if handle is not None:
            handle.user_hook = hook
        return handle

    def layer(self) -> int:
        if self.name is None:
            raise ValueError("This hook point has no name yet: call `model.setup()` first.")
        for field in self.name.split("."):
            if field.isdigit():
                return int(field)
        raise ValueError(f"Hook point {self.name!r} does not belong to a layer.")

    def has_listeners(self) -> bool:
        """True when a forward or backward hook is attached (cheap; used to skip work)."""
        return bool(self.fwd_hooks or self.bwd_hooks)
