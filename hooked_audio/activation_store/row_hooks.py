"""The check every activation source makes of the hooks it is asked for: known, in the stack
whose positions are its rows, and with one row per position (not an attention pattern)."""

from __future__ import annotations

from collections.abc import Mapping

#: hooks indexed by query and key position, which have no single row per position
PAIRWISE = ("hook_pattern", "hook_attn_scores")


def check_row_hooks(names: list[str], hook_dict: Mapping, prefix: str, stack: str) -> None:
    """Refuse, before any work, an empty list, names that are not hooks of `hook_dict` under
    `prefix` (`stack` names that part of the model in the message) and pairwise hooks."""
    example = f"{prefix}2.hook_resid_post" if prefix.endswith("blocks.") else f"{prefix}..."
    if not names:
        raise ValueError(f"Name at least one hook, e.g. {example!r}.")
    for name in names:
        if name not in hook_dict or not name.startswith(prefix):
            close = sorted(n for n in hook_dict if n.startswith(prefix) and "resid" in n)[:4]
            raise ValueError(
                f"{name!r} is not a hook of this model's {stack} (one row per position of "
                f"{prefix}* hooks), e.g. {close}."
            )
        if name.endswith(PAIRWISE):
            raise ValueError(
                f"{name!r} is indexed by query and key positions, not one row per position; "
                "read hook_z or hook_result for per-head outputs instead."
            )
