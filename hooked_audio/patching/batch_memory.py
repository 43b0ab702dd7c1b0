"""How many cells one patched forward can carry on an accelerator: `batch_size=None` on CUDA
takes as many as a share of the free memory holds, from an upper bound of one run's working
memory (on a CPU one cell per forward already keeps the cores busy, so it stays 1)."""

from __future__ import annotations

import torch

from hooked_audio.cache_memory import available_memory, cache_bytes
from hooked_audio.checks import check_batch_size
from hooked_audio.streams.protocol import AudioStream, StreamInput

#: the share of the free device memory a batch of patched runs may take
MEMORY_SHARE = 0.5
#: never more cells per forward than this, however much memory is free
MAX_CELLS_PER_FORWARD = 256
#: when the free memory cannot be read
FALLBACK_CELLS_PER_FORWARD = 32


def run_bytes(view: AudioStream, x: StreamInput) -> int:
    """An upper bound of one patched run's working memory per input row: twice every
    activation of one block (a step's input and output live together), by the view's stack
    sizes for `x` (attention scores as float32)."""
    extent = view.cache_extent(x)
    names = [n for n in view.hook_dict if n.startswith("blocks.0.")]
    itemsize = x.element_size() if torch.is_floating_point(x) else 4
    return max(1, 2 * sum(cache_bytes(names, {"": extent}, itemsize).values()) // extent.batch)


def cells_per_forward(free_bytes: int | None, bytes_per_cell: int, n_cells: int) -> int:
    """`MEMORY_SHARE` of `free_bytes` over `bytes_per_cell`, within [1, min(n_cells,
    MAX_CELLS_PER_FORWARD)]; the fallback when the free memory is unknown."""
    top = max(1, min(n_cells, MAX_CELLS_PER_FORWARD))
    if free_bytes is None:
        return min(top, FALLBACK_CELLS_PER_FORWARD)
    return max(1, min(top, int(MEMORY_SHARE * free_bytes) // max(1, bytes_per_cell)))


def auto_batch_size(view: AudioStream, x: StreamInput, n_cells: int) -> int:
    """`batch_size=None`: 1 on a CPU; on CUDA as many cells as `MEMORY_SHARE` of the free
    memory holds (`cells_per_forward`, each cell one row of `x`)."""
    device = torch.device(view.device)
    if device.type == "cpu":
        return 1
    rows = x.shape[0] if x.ndim > 1 else 1
    per_cell = rows * run_bytes(view, x)
    free = available_memory(device) if device.type == "cuda" else None
    return cells_per_forward(free, per_cell, n_cells)


def resolve_batch_size(
    batch_size: int | None, view: AudioStream, x: StreamInput, n_cells: int
) -> int:
    """A checked `batch_size`, or for None `auto_batch_size(view, x, n_cells)`."""
    if batch_size is None:
        return auto_batch_size(view, x, n_cells)
    return check_batch_size(batch_size, view.device)
