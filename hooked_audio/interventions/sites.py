"""`AblationSite`: one thing an ablation replaces, as a hook name and (for a head) an index."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AblationSite:
    """What an ablation replaces: the output of `hook_name`, either whole (`head=None`, e.g. an
    MLP's output) or one head's slice of it along `head_axis` (attention's `hook_z`,
    `[batch, pos, head, d_head]`: axis 2). `component` and `layer` name it in tables
    ("decoder.self_heads", 3)."""

    component: str
    layer: int
    head: int | None
    hook_name: str
    head_axis: int = 2

    @property
    def label(self) -> str:
        """`L3H5` for a head, `L3` for a whole component."""
        return f"L{self.layer}" if self.head is None else f"L{self.layer}H{self.head}"

    @property
    def key(self) -> str:
        """Unique within a study: component and label."""
        return f"{self.component}.{self.label}"
