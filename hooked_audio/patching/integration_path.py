"""The path integral behind integrated-gradients patching, for any activations of a stream.

Both functions give, per activation name, `delta * mean_alpha grad` with the activation's
own shape (`delta` = source - base activation, the gradient of the metric averaged over the
path points `alpha`), for the caller to sum over whatever makes a cell: positions and
features for a layer activation (`integrated_gradients`), positions and `d_head` per head
(`head_integrated_gradients`). The path points of a chunk run as one batch, resumed at a layer
from the cached base run (`view.resume_from`), so any stream view works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.checks import check_count
from hooked_audio.patching.cells import metric_value
from hooked_audio.streams.protocol import AudioStream, NamedHook

INTEGRATION_PATHS = ("layer", "input")


class PathIntegral(NamedTuple):
    """What `layer_path` integrates: per moving activation `delta * mean gradient`; per
    watched activation the mean gradient of the metric at it along the path."""

    attributions: dict[str, Tensor]
    mean_gradients: dict[str, Tensor]


def path_points(steps: int) -> Float[Tensor, " steps"]:
    """The alphas of the midpoint rule on [0, 1]: `(j + 0.5) / steps`, on the CPU in float64
    (each chunk of them is moved to its activations' device and dtype where it is used)."""
    check_count(steps, "steps")
    return (torch.arange(steps, dtype=torch.float64, device="cpu") + 0.5) / steps


def _points(base: Tensor, delta: Tensor, chunk: Tensor) -> Tensor:
    """`base + alpha * delta` for each alpha of `chunk`, stacked along the batch axis (the
    rows of one run stay together), as a leaf that records gradients."""
    rows = base.shape[0]
    scale = chunk.to(device=base.device, dtype=base.dtype).repeat_interleave(rows)
    scale = scale.reshape(-1, *([1] * (base.ndim - 1)))
    repeat = (len(chunk),) + (1,) * (base.ndim - 1)
    return (base.repeat(*repeat) + scale * delta.repeat(*repeat)).detach().requires_grad_(True)


def _repeated(value: Tensor, n_points: int) -> Tensor:
    """One run's activation repeated for `n_points` path points along the batch axis, as a
    leaf that records gradients (so what is computed from it has a gradient too)."""
    return value.repeat(n_points, *([1] * (value.ndim - 1))).detach().requires_grad_(True)


def _summed_metric(
    metric: Callable[[Tensor], Tensor], logits: Tensor, n_points: int, layer: int
) -> Tensor:
    """The sum over path points of the metric on each point's rows, keeping the graph; a
    non-scalar or NaN metric fails as `metric_value` says."""
    rows = logits.shape[0] // n_points
    total: Tensor | float = 0.0
    for k in range(n_points):
        value = metric(logits[k * rows : (k + 1) * rows])
        metric_value(lambda _, value=value: value, logits, f"on the path at layer {layer}")
        total = total + value
    return torch.as_tensor(total)


def _attributions(
    deltas: Mapping[str, Tensor], grad_sums: Mapping[str, Tensor], n_points: int
) -> dict[str, Tensor]:
    return {name: (deltas[name] * grad_sums[name] / n_points).detach() for name in deltas}


def layer_path(
    view: AudioStream,
    layer: int,
    bases: Mapping[str, Tensor],
    sources: Mapping[str, Tensor],
    start: Tensor,
    metric: Callable[[Tensor], Tensor],
    alphas: Tensor,
    batch_size: int,
    held: Mapping[str, Tensor] | None = None,
    watched: Sequence[str] = (),
) -> PathIntegral:
    """The activations `bases` (names of layer `layer`) move together from base to source;
    nothing else moves. The runs resume at `layer` from `start` (the base run's residual
    stream entering it) with each activation replaced by its path point through a hook; a
    layer's own `hook_resid_pre` is the resumed stream itself.

    `held`: activations replaced by these fixed values (one run's worth) at every path point,
    so that what they would have computed from the moving activations is cut out of the path
    (the QK fix holds a layer's attention scores at the base run's). `watched`: activations
    whose mean gradient along the path is returned as well (e.g. the pattern computed from
    held scores)."""
    held = dict(held or {})
    resid_pre = f"blocks.{layer}.hook_resid_pre"
    deltas = {name: sources[name] - bases[name] for name in bases}
    grad_sums = {name: torch.zeros_like(base) for name, base in bases.items()}
    watched_sums: dict[str, Tensor] = {}
    for first in range(0, len(alphas), batch_size):
        chunk = alphas[first : first + batch_size]
        points = {name: _points(bases[name], deltas[name], chunk) for name in bases}
        fixed = {name: _repeated(value, len(chunk)) for name, value in held.items()}
        seen: dict[str, Tensor] = {}

        def substitute(activation: Tensor, hook: NamedHook) -> Tensor:
            point = points[hook.name] if hook.name in points else fixed[hook.name]
            if activation.shape != point.shape:
                raise RuntimeError(
                    f"{hook.name}: {tuple(activation.shape)} != {tuple(point.shape)}"
                )
            return point

        def watch(activation: Tensor, hook: NamedHook) -> None:
            seen[hook.name] = activation

        hooks: list[tuple[str, Callable]] = [
            (name, substitute) for name in [*points, *fixed] if name != resid_pre
        ]
        hooks += [(name, watch) for name in watched]
        resumed = points.get(resid_pre)
        if resumed is None:
            resumed = _repeated(start, len(chunk)).detach()
        with torch.enable_grad(), view.hooks(fwd_hooks=hooks):
            logits = view.resume_from(layer, resumed)
            total = _summed_metric(metric, logits, len(chunk), layer)
            grads = torch.autograd.grad(
                total, [*points.values(), *(seen[name] for name in watched)], allow_unused=True
            )
        for name, grad in zip([*points, *watched], grads):
            if grad is None:
                continue
            one_run = grad.reshape(len(chunk), -1, *grad.shape[1:]).sum(dim=0)
            if name in grad_sums:
                grad_sums[name] += one_run
            else:
                watched_sums[name] = watched_sums.get(name, 0.0) + one_run
    return PathIntegral(
        _attributions(deltas, grad_sums, len(alphas)),
        {name: (total / len(alphas)).detach() for name, total in watched_sums.items()},
    )


def input_path(
    view: AudioStream,
    first_layer: int,
    base_start: Tensor,
    source_start: Tensor,
    bases: Mapping[str, Tensor],
    sources: Mapping[str, Tensor],
    metric: Callable[[Tensor], Tensor],
    alphas: Tensor,
    batch_size: int,
) -> dict[str, Tensor]:
    """One path for every activation of `bases`: the residual stream entering `first_layer`
    moves from `base_start` to `source_start` and every later activation follows it; the
    gradient is taken at each activation where the path passes."""
    names: Sequence[str] = list(bases)
    deltas = {name: sources[name] - bases[name] for name in names}
    grad_sums = {name: torch.zeros_like(bases[name]) for name in names}
    for first in range(0, len(alphas), batch_size):
        chunk = alphas[first : first + batch_size]
        resumed = _points(base_start, source_start - base_start, chunk)
        kept: dict[str, Tensor] = {}

        def keep(activation: Tensor, hook: NamedHook) -> None:
            kept[hook.name] = activation

        with torch.enable_grad(), view.hooks(fwd_hooks=[(name, keep) for name in names]):
            logits = view.resume_from(first_layer, resumed)
            total = _summed_metric(metric, logits, len(chunk), first_layer)
            grads = torch.autograd.grad(total, [kept[name] for name in names], allow_unused=True)
        for name, grad in zip(names, grads):
            if grad is not None:  # an activation the metric does not read (e.g. a last MLP)
                grad_sums[name] += grad.reshape(len(chunk), *bases[name].shape).sum(dim=0)
    return _attributions(deltas, grad_sums, len(alphas))
