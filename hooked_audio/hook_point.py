"""`AudioHookPoint`: TransformerLens's `HookPoint`, aware of nested stacks.

TransformerLens's `HookPoint.layer()` reads the layer from the second dot-separated
field (`blocks.3.attn.hook_z` -> 3). In a two-stack model the names are
`encoder.blocks.3...` and `decoder.blocks.3...`, where that rule returns the
wrong field; this subclass takes the first integer field instead. Everything
else (hook registration, contexts, levels) is TransformerLens's own code.
"""

from __future__ import annotations

from transformer_lens.hook_points import HookPoint


class AudioHookPoint(HookPoint):
    """A `HookPoint` whose `layer()` works for `encoder.blocks.{l}` / `decoder.blocks.{l}` names."""

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
