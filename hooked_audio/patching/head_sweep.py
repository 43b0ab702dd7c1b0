"""Per-head patching of either attention of a stream, cross-attention included.

`transformer_lens.utilities.get_act_name` builds `blocks.{l}.attn.hook_z` and cannot name a
decoder block's `cross_attn`, so TransformerLens's head functions cannot reach the heads
that read the audio. This sweep patches one head at a time at any attention hook of a view:
`component="cross_attn"` (decoder) or `"attn"`, `act` in z / q / k / v / pattern, over all
positions or position by position.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.cells import metric_value
from hooked_audio.patching.sweep_result import SweepResult

HEAD_ACTS = ("z", "q", "k", "v", "pattern", "result")


def _head_setter(act: str, head: int, pos: Optional[int]) -> Callable:
    def patch(activation: Tensor, hook, source: Tensor) -> Tensor:
        activation = activation.clone()
        if act == "pattern":  # [batch, head, query, key]
            index = (slice(None), head) if pos is None else (slice(None), head, pos)
        else:  # [batch, pos, head, ...]
            index = (slice(None), slice(None), head) if pos is None else (slice(None), pos, head)
        activation[index] = source[index]
        return activation

    return patch


@torch.no_grad()
def head_sweep(
    base_view,
    base_input: Tensor,
    source_cache,
    metric: Callable[[Tensor], Tensor],
    component: str = "cross_attn",
    act: str = "z",
    by_pos: bool = False,
    layers: Optional[Sequence[int]] = None,
    direction: str = "denoise",
    reference_values: tuple[float, float] = (float("nan"), float("nan")),
    progress: bool = True,
) -> SweepResult:
    """Run the base input once per (layer, head[, pos]) with that head's `act` taken from
    `source_cache` (a cache of the same view type, keyed by local names); each run resumes at
    the patched layer from the cached base run.

    Returns a `SweepResult` whose cells are heads (or head x position, flattened head-major,
    when `by_pos`). `reference_values` = (clean, corrupt) metric values for normalisation.
    """
    if act not in HEAD_ACTS:
        raise ValueError(f"act must be one of {HEAD_ACTS}, got {act!r}.")
    source_model = getattr(source_cache.model, "model", source_cache.model)
    if source_model is not base_view.model:
        raise ValueError("The source cache comes from a different model than the view: patch "
                         "between runs of one model (cache with `view.run_with_cache`).")
    n_layers, n_heads = base_view.cfg.n_layers, base_view.cfg.n_heads
    layers = list(range(n_layers)) if layers is None else list(layers)
    name0 = f"blocks.{layers[0]}.{component}.hook_{act}"
    if name0 not in source_cache.cache_dict:
        raise KeyError(f"The source cache has no {name0!r}: cache it with "
                       f"`view.run_with_cache(x)` (for `result`, enable use_attn_result).")
    n_pos = source_cache[name0].shape[2 if act == "pattern" else 1]
    cells = [(h, p) for h in range(n_heads) for p in (range(n_pos) if by_pos else [None])]
    values = torch.empty(len(layers), len(cells))
    bar = tqdm(total=values.numel(), disable=not progress, desc=f"{component} {act} heads")
    # Layers before the patched one are the same in every run: resume from the base run's
    # residual stream at that layer (as the fast sweep engine does).
    starts = [f"blocks.{l}.hook_resid_pre" for l in layers]
    _, base_cache = base_view.run_with_cache(base_input, names_filter=starts)
    for li, (layer, start) in enumerate(zip(layers, starts)):
        name = f"blocks.{layer}.{component}.hook_{act}"
        source = source_cache[name]
        for ci, (head, pos) in enumerate(cells):
            setter = _head_setter(act, head, pos)
            hook = lambda x, hook, s=setter: s(x, hook, source)
            with base_view.hooks(fwd_hooks=[(name, hook)]):
                logits = base_view.resume_from(layer, base_cache[start])
            values[li, ci] = metric_value(metric, logits)
            bar.update(1)
    bar.close()
    labels = [f"H{h}" if p is None else f"H{h}@{p}" for h, p in cells]
    return SweepResult(values=values, layers=layers, cells=[[h] for h, _ in cells],
                       cell_labels=labels, act=f"{component}.{act}", direction=direction,
                       clean_value=reference_values[0], corrupt_value=reference_values[1])
