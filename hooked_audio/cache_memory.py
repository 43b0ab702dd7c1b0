"""How many bytes a `run_with_cache` would hold, and whether the machine has them.

A cache of every hook of a long (chunked) input grows with the number of windows, and the
attention patterns dominate it: `batch * heads * pos * pos` values per layer, 1500 x 1500 for
a 30 s Whisper window. `run_with_cache` estimates the cache from the model's dimensions before
running and refuses, with the estimate and a smaller `names_filter`, when it cannot fit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

#: key-position-sized hooks, `[batch, head, query_pos, key_pos]`
PATTERN_HOOKS = ("hook_pattern", "hook_attn_scores")
DROP_PATTERNS = 'names_filter=lambda n: not n.endswith(("hook_pattern", "hook_attn_scores"))'
RESID_ONLY = 'names_filter=lambda n: n.endswith("hook_resid_post")'


class CacheTooLargeError(MemoryError):
    """The requested activation cache would not fit in the memory that is available."""


@dataclass(frozen=True)
class StackExtent:
    """The sizes that fix the shape of every hook of one stack, for one input.

    `n_pos` is the stack's (query) positions; `n_cross_pos` the keys of its cross-attention
    (Whisper's decoder reads the audio frames); `n_stem_pos` the positions of a conv stem's
    first layer (`hook_conv1`, one per 10 ms mel frame).
    """

    batch: int
    n_pos: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int
    n_cross_pos: int = 0
    n_stem_pos: int = 0

    @classmethod
    def of(cls, cfg, batch: int, n_pos: int, **extra: int) -> StackExtent:
        """From a TransformerLens config (`d_model`, `n_heads`, `d_head`, `d_mlp`)."""
        return cls(batch, n_pos, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp or 0, **extra)


def hook_numel(local_name: str, s: StackExtent) -> int:
    """Values a hook holds, by TransformerLens's naming (an upper bound where a stack pools or
    groups key/value heads)."""
    last = local_name.rsplit(".", 1)[-1]
    n_keys = s.n_cross_pos if ".cross_attn." in f".{local_name}" else s.n_pos
    if last in PATTERN_HOOKS:
        return s.batch * s.n_heads * s.n_pos * n_keys
    if last in ("hook_q", "hook_rot_q", "hook_z"):
        return s.batch * s.n_pos * s.n_heads * s.d_head
    if last in ("hook_k", "hook_v", "hook_rot_k"):
        return s.batch * n_keys * s.n_heads * s.d_head
    if last == "hook_result":
        return s.batch * s.n_pos * s.n_heads * s.d_model
    if last in ("hook_pre", "hook_post", "hook_pre_linear") and ".mlp." in f".{local_name}":
        return s.batch * s.n_pos * s.d_mlp
    if last == "hook_scale":
        return s.batch * s.n_pos
    if last == "hook_conv1":
        return s.batch * s.n_stem_pos * s.d_model
    return s.batch * s.n_pos * s.d_model


def cache_bytes(
    names: Iterable[str], extents: dict[str, StackExtent], itemsize: int
) -> dict[str, int]:
    """Bytes per hook name. `extents` maps a name prefix ("encoder.", "" for the root stack)
    to its stack; the longest matching prefix wins. Attention scores are float32."""
    prefixes = sorted(extents, key=len, reverse=True)
    sizes = {}
    for name in names:
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is None:
            continue
        width = 4 if name.endswith("hook_attn_scores") else itemsize
        sizes[name] = hook_numel(name[len(prefix) :], extents[prefix]) * width
    return sizes


# --------------------------------------------------------------------------- available memory
def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_headroom() -> int | None:
    """Limit minus usage of this process's memory cgroup (containers), when one is set."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            return max(int(limit) - usage, 0)
    return None


def _address_space_headroom() -> int | None:
    """Soft `RLIMIT_AS` (the address-space limit `ulimit -v` sets) minus this process's
    virtual size, when a limit is set: allocations past it fail however much memory is free."""
    try:
        import resource

        limit, _ = resource.getrlimit(resource.RLIMIT_AS)
        if limit == resource.RLIM_INFINITY:
            return None
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (ImportError, OSError, ValueError, IndexError):
        return None
    return max(limit - pages * os.sysconf("SC_PAGE_SIZE"), 0)


def available_memory(device: str | torch.device) -> int | None:
    """Bytes a new allocation on `device` can take, on the low side; None when unknown.

    CPU: the system's available memory (psutil if installed, else /proc/meminfo's
    MemAvailable), capped by the container's memory cgroup and the process's address-space
    limit (`ulimit -v`). CUDA: free device memory plus
    what PyTorch has reserved but not allocated.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type != "cpu":
        return None
    try:
        import psutil

        system = int(psutil.virtual_memory().available)
    except ImportError:
        system = _meminfo_available()
    posix = os.name == "posix"
    headroom = _cgroup_headroom() if posix else None
    address_space = _address_space_headroom() if posix else None
    known = [m for m in (system, headroom, address_space) if m is not None]
    return min(known) if known else None


# --------------------------------------------------------------------------- the check
def format_bytes(n: float) -> str:
    """`1536` -> `"1.5 KiB"`."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def check_cache_fits(
    sizes: dict[str, int], device: str | torch.device, batch: int, factor: int = 1
) -> None:
    """Raise `CacheTooLargeError` when `factor * sum(sizes)` exceeds the memory available on
    `device`, with the estimate and a `names_filter` that would fit. `factor` is 2 when
    gradients are cached too. Nothing happens when the available memory is unknown."""
    total = factor * sum(sizes.values())
    if not total:
        return
    available = available_memory(device)
    if available is None or total <= available:
        return
    patterns = factor * sum(v for k, v in sizes.items() if k.endswith(PATTERN_HOOKS))
    resid = factor * sum(v for k, v in sizes.items() if k.endswith("hook_resid_post"))
    if patterns and total - patterns <= available:
        left = format_bytes(total - patterns)
        fix = f"drop the attention patterns ({left} left): {DROP_PATTERNS}"
    elif resid and resid <= available:
        fix = f"keep the residual stream only ({format_bytes(resid)}): {RESID_ONLY}"
    else:
        fix = "cache a few named hooks (names_filter=[...])"
    raise CacheTooLargeError(
        f"Caching {len(sizes)} hooks for this input (batch {batch}) needs about "
        f"{format_bytes(total)}, {format_bytes(patterns)} of it attention patterns and scores, "
        f"but only {format_bytes(available)} of {torch.device(device).type} memory is available. "
        f"Cache less: {fix}; or run fewer windows (chunks) per call, or pass device= with "
        "more room."
    )
