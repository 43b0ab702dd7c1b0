"""How a stream labels its cells: audio stacks in seconds, text stacks by token position."""

from __future__ import annotations


class AudioPositions:
    """Cells of an audio stack, position `p` covering `[p, p + 1) * seconds_per_position`.
    The view provides `seconds_per_position`."""

    seconds_per_position: float

    def cell_seconds(self, groups: list[list[int]]) -> list[tuple[float, float]]:
        """`(start, end)` seconds of each group of positions."""
        step = self.seconds_per_position
        return [(min(g) * step, (max(g) + 1) * step) for g in groups]

    def cell_labels(self, groups: list[list[int]]) -> list[str]:
        return [f"{start:.2f}-{end:.2f}s" for start, end in self.cell_seconds(groups)]


class TokenPositions:
    """Cells of a text stack: no times; labelled by their positions ("3", or "3,4")."""

    def cell_seconds(self, groups: list[list[int]]) -> None:
        return None

    def cell_labels(self, groups: list[list[int]]) -> list[str]:
        return [",".join(str(p) for p in g) for g in groups]
