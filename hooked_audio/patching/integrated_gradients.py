"""Integrated-gradients patching: attribution along the path from the base run's activation to
the source run's, instead of at the base run only; for any layer activation (a view's `layer_acts`).

Attribution patching (`resid_pre_attribution`) takes the gradient of the metric at the base
run's `blocks.{l}.hook_resid_pre` and multiplies it by the patch `delta = a_source - a_base`.
Where the metric is far from linear in the activation (on Whisper it is: see
benchmarks/SWEEP_RESULTS.md), that first-order estimate can have the wrong sign. Integrated
gradients (Sundararajan et al. 2017; EAP-IG, Hanna et al. 2024, does this for circuit edges)
averages the gradient over `steps` points of the straight path
`a(alpha) = a_base + alpha * delta`, alpha at the midpoints `(j + 0.5) / steps`, so that the
position attributions `delta_p . mean_alpha grad_p` add up to the effect of patching the whole
layer as `steps` grows (completeness). A cell's estimate is the sum over its positions.

Two paths (`path=`):
- `"layer"` (the default): each layer has its own path, on which only that layer's activation
  moves. Cost, per layer: one batched forward of `steps` runs resumed at layer `l` from the
  cached base run and one backward through them, about `3 * steps` forward-equivalents of the
  layers from `l` on (a backward costs about two forwards).
- `"input"` (EAP-IG's choice): one path for all layers, on which the residual stream entering
  the first of `layers` moves from base to source and every later activation follows it. Each
  layer's attribution is its `delta` times the mean gradient at its activation along that one
  path: about `3 * steps` forward-equivalents in all, whatever the number of layers, and equal
  to the `"layer"` path at the first layer; later layers' estimates are of the same quantity
  but along a curved path, so they converge to it only as far as the model is linear.

With `qk_fix=True` (`resid_pre` on the layer path), the estimate combines with AtP*'s QK fix
(`attribution_qk`): on the path, layer `l`'s attention scores are held at the base run's, so
the integral covers every route from `resid_pre` except that layer's queries and keys; for
those, each cell's new attention pattern is computed exactly (its query row and key column
changed, every row renormalised) and taken through the pattern gradient averaged over the same
path. Same runs, a little more memory (the base run's scores and pattern of each layer).

The `steps` runs are one batch; lower `batch_size` to bound memory. Every cell of a layer
comes from those runs, whatever the number of cells, which is where the saving over exact
patching (one run per cell) comes from. Completeness is what the estimate guarantees: the
cells add up to the effect of patching the whole layer, so a cell's estimate is its share of
the joint patch. Where positions act jointly (the frames of one word are redundant, so
patching one frame alone does little), that share differs from the effect of patching the
cell alone; benchmarks/FAITHFUL_MAPS_RESULTS.md measures how much per granularity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import ActivationCache

from hooked_audio.checks import check_count, check_flags, check_layers
from hooked_audio.patching.attribution import accumulation_dtype, cell_sums, estimate_result
from hooked_audio.patching.attribution_qk import qk_pattern_effect
from hooked_audio.patching.cells import Cells, as_position_groups, metric_value
from hooked_audio.patching.checks import check_aligned, check_layer_act
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.integration_path import (
    INTEGRATION_PATHS,
    PathIntegral,
    input_path,
    layer_path,
    path_points,
)
from hooked_audio.patching.runs import run_base_and_source
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def _per_position(attributions: Tensor) -> Float[Tensor, " pos"]:
    """A layer activation's `[batch, pos, ...]` attributions summed over the batch rows of one
    run and the feature axes (in float32 at least)."""
    return attributions.flatten(2).sum(dim=(0, 2), dtype=accumulation_dtype(attributions))


def _pattern_effects(
    view: AudioStream,
    layer: int,
    base_cache: ActivationCache,
    source_cache: ActivationCache,
    found: PathIntegral,
) -> Float[Tensor, " pos"]:
    """The QK fix's term per position: the exact change of layer `layer`'s attention pattern
    when that position of its `resid_pre` is patched alone, through the pattern gradient
    averaged over the path (zero where the metric does not read the pattern); on the model's
    device, in float32 at least."""
    pattern = f"blocks.{layer}.attn.hook_pattern"
    resid_pre = f"blocks.{layer}.hook_resid_pre"
    gradient = found.mean_gradients.get(pattern)
    if gradient is None:
        resid = base_cache[resid_pre]
        return torch.zeros(resid.shape[1], device=resid.device, dtype=accumulation_dtype(resid))
    with torch.no_grad():
        q, k = view.query_key(layer, base_cache[resid_pre])
        q_new, k_new = view.query_key(layer, source_cache[resid_pre])
        effect = qk_pattern_effect(
            base_cache[pattern], gradient, q, k, q_new, k_new, causal=view.causal
        )
    return effect


def integrated_gradients(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Cells | None = None,
    steps: int = 8,
    batch_size: int | None = None,
    progress: bool = True,
    path: str = "layer",
    qk_fix: bool = False,
) -> SweepResult:
    """Integrated-gradients estimates of `layer_sweep(act=act)` (same cells, same result
    type): `values[l, c]` is the metric of the base run plus the attributions of cell `c`'s
    positions of `blocks.{l}.hook_{act}` along the path to the source run (module docstring).
    `act` is one of the view's `layer_acts`. `steps` path points (cost about `3 * steps`
    forward-equivalents per layer on the `"layer"` path, in all on the `"input"` path: see the
    module docstring), evaluated `batch_size` at a time (default: all of them in one batch).
    `qk_fix=True` adds AtP*'s QK fix (module docstring; `resid_pre` on the layer path only)."""
    act = check_layer_act(view, act)
    if path not in INTEGRATION_PATHS:
        raise ValueError(f"path must be one of {INTEGRATION_PATHS}, got {path!r}.")
    check_flags(qk_fix=qk_fix)
    if qk_fix and (act, path) != ("resid_pre", "layer"):
        raise ValueError(
            "qk_fix=True recomputes the attention pattern of the layer whose residual stream is "
            f"patched, so it needs act='resid_pre' and path='layer' (got act={act!r}, "
            f"path={path!r})."
        )
    check_aligned(view, clean, corrupt)
    layers = check_layers(layers, view.cfg.n_layers)
    alphas = path_points(steps)
    batch_size = steps if batch_size is None else check_count(batch_size, "batch_size")
    names = [f"blocks.{layer}.hook_{act}" for layer in layers]
    starts = [f"blocks.{layer}.hook_resid_pre" for layer in layers]
    attention = [
        f"blocks.{layer}.attn.hook_{kind}"
        for layer in layers
        for kind in ("attn_scores", "pattern")
    ]
    with torch.no_grad():
        runs = run_base_and_source(
            view.run_with_cache,
            clean,
            corrupt,
            direction,
            names + starts + (attention if qk_fix else []),
            names + starts[:1],
        )
    base_cache, source_cache = runs.base_cache, runs.source_cache
    base_value = metric_value(metric, runs.base_logits, "on the base run")
    first = base_cache[names[0]]  # per layer and position, on the model's device
    effects = torch.full(
        (len(layers), first.shape[1]),
        float("nan"),
        device=first.device,
        dtype=accumulation_dtype(first),
    )
    if path == "input":
        found = input_path(
            view,
            layers[0],
            base_cache[starts[0]],
            source_cache[starts[0]],
            {name: base_cache[name] for name in names},
            {name: source_cache[name] for name in names},
            metric,
            alphas,
            batch_size,
        )
        effects[:] = torch.stack([_per_position(found[name]) for name in names])
    bar = tqdm(
        names if path == "layer" else [], disable=not progress, desc=f"integrated gradients ({act})"
    )
    for li, name in enumerate(bar):
        scores, pattern = (f"blocks.{layers[li]}.attn.hook_{k}" for k in ("attn_scores", "pattern"))
        integral = layer_path(
            view,
            layers[li],
            {name: base_cache[name]},
            {name: source_cache[name]},
            base_cache[starts[li]],
            metric,
            alphas,
            batch_size,
            held={scores: base_cache[scores]} if qk_fix else None,
            watched=[pattern] if qk_fix else (),
        )
        effects[li] = _per_position(integral.attributions[name])
        if qk_fix:
            pattern_effects = _pattern_effects(view, layers[li], base_cache, source_cache, integral)
            effects[li] += pattern_effects.to(effects.dtype)
    groups = as_position_groups(cells, effects.shape[1])
    return estimate_result(
        view,
        base_value + cell_sums(effects, groups),
        layers,
        groups,
        f"{act} (integrated gradients, {path} path, {steps} steps{', QK fix' if qk_fix else ''})",
        direction,
        metric,
        runs.source_logits,
        runs.base_logits,
    )


def resid_pre_integrated_gradients(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    direction: Direction = "denoise",
    **kwargs: Any,
) -> SweepResult:
    """`integrated_gradients` of `blocks.{l}.hook_resid_pre` (see there for the arguments)."""
    return integrated_gradients(view, clean, corrupt, metric, "resid_pre", direction, **kwargs)
