"""Which stored hooks a probe runs on: each hook's layer (the `N` of `blocks.N.`) and site (the
rest of its name, e.g. `hook_resid_post` or `attn.hook_z`), and the choice of hooks by name or
by layer, checked against what the store holds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hooked_audio.checks import as_index

_BLOCK = re.compile(r"^(?P<stack>.*?)blocks\.(?P<layer>\d+)\.(?P<site>.+)$")


@dataclass(frozen=True)
class HookLayer:
    hook: str
    layer: int | None  # None: a hook outside the blocks (an embedding, a final norm)
    site: str  # e.g. "hook_resid_post"; the whole name for a hook outside the blocks


def hook_layer(hook: str) -> HookLayer:
    match = _BLOCK.match(hook)
    if match is None:
        return HookLayer(hook, None, hook)
    return HookLayer(hook, int(match["layer"]), match["site"])


def choose_hooks(store, hooks=None, layers=None) -> list[HookLayer]:
    """The store's hooks named in `hooks` (default: all), kept to those at `layers` (default:
    any); an unknown hook or layer, or a choice that leaves none, is a ValueError."""
    stored = [hook_layer(h) for h in store.hooks]
    if not stored:
        raise ValueError(f"{store!r} holds no hook to probe.")
    chosen = stored
    if hooks is not None:
        names = [hooks] if isinstance(hooks, str) else list(hooks)
        unknown = [h for h in names if h not in store.hooks]
        if unknown or not names:
            raise ValueError(
                f"hooks {unknown or names} are not in the store; it holds {store.hooks}."
            )
        chosen = [h for h in stored if h.hook in names]
    if layers is not None:
        if isinstance(layers, int) or not hasattr(layers, "__iter__"):
            layers = [layers]
        wanted = [as_index(layer, "A layer") for layer in layers]
        have = sorted({h.layer for h in chosen if h.layer is not None})
        unknown_layers = [layer for layer in wanted if layer not in have]
        if unknown_layers or not wanted:
            raise ValueError(
                f"layers {unknown_layers or wanted} are not among the stored hooks' layers "
                f"{have} ({[h.hook for h in chosen]}). Choose from those, or store those layers' "
                "hooks."
            )
        chosen = [h for h in chosen if h.layer in wanted]
    return sorted(chosen, key=lambda h: (h.site, -1 if h.layer is None else h.layer))
