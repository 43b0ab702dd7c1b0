"""Integrated-gradients patching: attribution along the path from the base run's activation to
the source run's, instead of at the base run only; for any layer activation (`LAYER_ACTS`).

Attribution patching (`resid_pre_attribution`) takes the gradient of the metric at the base
run's `blocks.{l}.hook_resid_pre` and multiplies it by the patch `delta = a_source - a_base`.
Where the metric is far from linear in the activation (on Whisper it is: see
benchmarks/SWEEP_RESULTS.md), that first-order estimate can have the wrong sign. Integrated
gradients (Sundararajan et al. 2017; EAP-IG, Hanna et al. 2024, does this for circuit edges)
averages the gradient over `steps` points of the straight path
`a(alpha) = a_base + alpha * delta`, alpha at the midpoints `(j + 0.5) / steps`, so that the
position attributions `delta_p . mean_alpha grad_p` add up to the effect of patching the whole
layer as `steps` grows (completeness). A cell's estimate is the sum over its positions.

Cost, per layer: one batched forward of `steps` runs resumed at layer `l` from the cached base
run and one backward through them, about `3 * steps` forward-equivalents of the layers from
`l` on (a backward costs about two forwards). The `steps` runs of a layer are one batch; lower
`batch_size` to bound memory. Every cell of a layer comes from those runs, whatever the number
of cells, which is where the saving over exact patching (one run per cell) comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.patching.attribution import cell_sums, estimate_result
from hooked_audio.patching.cells import as_position_groups, metric_value
from hooked_audio.patching.checks import (
    check_aligned,
    check_count,
    check_layers,
)
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.layer_sweep import LAYER_ACTS
from hooked_audio.patching.runs import run_base_and_source
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, StreamInput


def path_points(steps: int) -> Float[Tensor, " steps"]:
    """The alphas of the midpoint rule on [0, 1]: `(j + 0.5) / steps`."""
    check_count(steps, "steps")
    return (torch.arange(steps, dtype=torch.float64) + 0.5) / steps


def _layer_attributions(
    view: AudioStream,
    layer: int,
    act: str,
    start: Tensor,
    base: Tensor,
    source: Tensor,
    metric: Callable[[Tensor], Tensor],
    alphas: Tensor,
    batch_size: int,
) -> Float[Tensor, " pos"]:
    """`delta_p . mean_alpha grad_p` per position of `blocks.{layer}.hook_{act}`, summed over
    the batch rows of one run and the feature axis. The runs resume at `layer` from `start`
    (the base run's `resid_pre` there); the path point replaces the activation through a hook,
    or is the resumed residual stream itself for `resid_pre`."""
    rows = base.shape[0]
    delta = source - base
    grad_sum = torch.zeros_like(base)
    name = f"blocks.{layer}.hook_{act}"
    for first in range(0, len(alphas), batch_size):
        chunk = alphas[first : first + batch_size].to(base.dtype)
        scale = chunk.repeat_interleave(rows).reshape(-1, *([1] * (base.ndim - 1)))
        repeat = (len(chunk),) + (1,) * (base.ndim - 1)
        path = (base.repeat(*repeat) + scale * delta.repeat(*repeat)).detach()
        path.requires_grad_(True)

        def substitute(activation: Tensor, hook) -> Tensor:
            if activation.shape != path.shape:
                raise RuntimeError(f"{name}: {tuple(activation.shape)} != {tuple(path.shape)}")
            return path

        with torch.enable_grad():
            if act == "resid_pre":
                logits = view.resume_from(layer, path)
            else:
                with view.hooks(fwd_hooks=[(name, substitute)]):
                    logits = view.resume_from(layer, start.repeat(len(chunk), 1, 1))
            total = sum(
                _metric_on_path(metric, logits[k * rows : (k + 1) * rows], layer)
                for k in range(len(chunk))
            )
            (grad,) = torch.autograd.grad(total, path)
        grad_sum += grad.reshape(len(chunk), *base.shape).sum(dim=0)
    mean_grad = grad_sum / len(alphas)
    return (delta * mean_grad).flatten(2).sum(dim=(0, 2)).detach()


def _metric_on_path(metric: Callable[[Tensor], Tensor], logits: Tensor, layer: int) -> Tensor:
    """The metric on one run's logits as a scalar tensor that keeps its graph; a non-scalar or
    NaN metric fails as `metric_value` says."""
    value = metric(logits)
    metric_value(lambda _: value, logits, f"on the path at layer {layer}")
    return value


def integrated_gradients(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Sequence | None = None,
    steps: int = 8,
    batch_size: int | None = None,
    progress: bool = True,
) -> SweepResult:
    """Integrated-gradients estimates of `layer_sweep(act=act)` (same cells, same result
    type): `values[l, c]` is the metric of the base run plus the attributions of cell `c`'s
    positions of `blocks.{l}.hook_{act}` along the path to the source run (module docstring).
    `act` is one of `LAYER_ACTS`. `steps` path points per layer (cost about `3 * steps`
    forward-equivalents per layer), evaluated `batch_size` at a time (default: all of them in
    one batch)."""
    if act not in LAYER_ACTS:
        raise ValueError(f"act must be one of {LAYER_ACTS}, got {act!r}.")
    check_aligned(view, clean, corrupt)
    layers = check_layers(layers, view.cfg.n_layers)
    alphas = path_points(steps)
    batch_size = steps if batch_size is None else check_count(batch_size, "batch_size")
    names = [f"blocks.{layer}.hook_{act}" for layer in layers]
    if names[0] not in view.hook_dict:
        raise ValueError(f"This stream has no {names[0]!r}; its layer acts are {LAYER_ACTS}.")
    starts = [f"blocks.{layer}.hook_resid_pre" for layer in layers]
    with torch.no_grad():
        runs = run_base_and_source(
            view.run_with_cache, clean, corrupt, direction, names + starts, names
        )
    base_cache, source_cache = runs.base_cache, runs.source_cache
    base_value = metric_value(metric, runs.base_logits, "on the base run")
    effects = torch.full((len(layers), base_cache[names[0]].shape[1]), float("nan"))
    bar = tqdm(names, disable=not progress, desc=f"integrated gradients ({act})")
    for li, name in enumerate(bar):
        effects[li] = _layer_attributions(
            view,
            layers[li],
            act,
            base_cache[starts[li]],
            base_cache[name],
            source_cache[name],
            metric,
            alphas,
            batch_size,
        )
    groups = as_position_groups(cells, effects.shape[1])
    return estimate_result(
        view,
        base_value + cell_sums(effects, groups),
        layers,
        groups,
        f"{act} (integrated gradients, {steps} steps)",
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
    **kwargs,
) -> SweepResult:
    """`integrated_gradients` of `blocks.{l}.hook_resid_pre` (see there for the arguments)."""
    return integrated_gradients(view, clean, corrupt, metric, "resid_pre", direction, **kwargs)
