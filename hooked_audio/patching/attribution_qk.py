"""AtP* with the attention softmax recomputed (Kramár et al. 2024, "QK fix").

Attribution patching linearises everything, including the softmax of attention patterns,
where a patch that moves a query or key can saturate the softmax and the gradient says
little. For a `resid_pre` cell at layer `l`, position `p`, this estimate keeps the gradient
for every path except the queries and keys of layer `l`'s attention, and for those computes
the new attention pattern *exactly* (query row `p` and key column `p` change, every row is
renormalised), then takes its effect to first order through `d metric / d pattern`:

    estimate = metric(base)
             + (source - base)[p] . d metric / d resid_pre[p]   (queries/keys of layer l detached)
             + sum_heads < d metric / d pattern,  pattern_patched(p) - pattern >

Exact when the metric depends on layer `l` only through its attention pattern, linearly
(tested); otherwise a first-order estimate with the softmax saturation removed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.patching.attribution import (
    accumulation_dtype,
    cell_sums,
    estimate_result,
    source_run,
)
from hooked_audio.patching.cells import Cells, as_position_groups
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, NamedHook, StreamInput


def qk_pattern_effect(
    P: Float[Tensor, "batch head pos pos"],
    G: Float[Tensor, "batch head pos pos"],
    q: Float[Tensor, "batch pos head d_head"],
    k: Float[Tensor, "batch pos head d_head"],
    q_new: Float[Tensor, "batch pos head d_head"],
    k_new: Float[Tensor, "batch pos head d_head"],
    causal: bool,
) -> Float[Tensor, " pos"]:
    """`sum_{batch, head} <G, pattern(p) - P>` for each position `p` replaced, `[pos]`.

    `P`, `G`: pattern and its gradient `[batch, head, query, key]`; `q`, `k`, `q_new`,
    `k_new`: `[batch, pos, head, d_head]` before and after replacing each position. Computed
    in the pattern's dtype, and in float32 at least (float16 / bfloat16 patterns are upcast).
    """
    dtype = torch.promote_types(P.dtype, torch.float32)
    scale = 1.0 / math.sqrt(q.shape[-1])
    qh, kh = q.transpose(1, 2).to(dtype), k.transpose(1, 2).to(dtype)
    qn, kn = q_new.transpose(1, 2).to(dtype), k_new.transpose(1, 2).to(dtype)
    P, G = P.to(dtype), G.to(dtype)
    scores = (qh @ kh.transpose(-1, -2)) * scale
    # Rows i != p: only the score against key p changes, to q_i . k'_p.
    new_column = (qh @ kn.transpose(-1, -2)) * scale  # [b, h, i, p]
    P_new_unnormed = torch.exp(torch.log(P) + new_column - scores)  # P_ip * exp(s'_ip - s_ip)
    # Z'_i / Z_i = (1 - P_ip) + P_new_ip when column p changes, and
    # <G_i, P'_i - P_i> = (P_ip - P_new_ip) (<G_i, P_i> - G_ip) / (Z'_i / Z_i).
    # In a saturated row (P_ip near 1, at the row's largest entry) `1 - P_ip` and
    # `<G_i, P_i> - G_ip` cancel to rounding error, which the division then blows up: there they
    # are summed from the row's other entries instead, which are small and need no cancelling.
    top = torch.zeros_like(P, dtype=torch.bool).scatter_(-1, P.argmax(-1, keepdim=True), True)
    rest = P.masked_fill(top, 0.0)  # each row without its largest entry
    G_top = (G * top).sum(-1, keepdim=True)
    others = torch.where(top, rest.sum(-1, keepdim=True), 1.0 - P)  # sum_{j != p} P_ij
    weighted = (G * P).sum(-1, keepdim=True)  # <G_i, P_i>
    spread = torch.where(top, ((G - G_top) * rest).sum(-1, keepdim=True), weighted - G)
    rows = (P - P_new_unnormed) * spread / (others + P_new_unnormed)
    rows = rows.sum(-2) - rows.diagonal(dim1=-2, dim2=-1)  # sum over i != p -> [b, h, p]
    # Row p: a new query against the old keys, and the new key at p itself.
    row_scores = (qn @ kh.transpose(-1, -2)) * scale  # [b, h, p, j]
    own = (qn * kn).sum(-1) * scale
    row_scores = row_scores.diagonal_scatter(own, dim1=-2, dim2=-1)
    if causal:
        n = row_scores.shape[-1]
        future = torch.ones(n, n, dtype=torch.bool, device=row_scores.device).triu(1)
        row_scores = row_scores.masked_fill(future, float("-inf"))
    row_p = (G * (row_scores.softmax(-1) - P)).sum(-1)  # [b, h, p]
    return (rows + row_p).sum(dim=(0, 1))


def resid_pre_attribution_qk(
    view: AudioStream,
    clean: StreamInput,
    corrupt: StreamInput,
    metric: Callable[[Tensor], Tensor],
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    cells: Cells | None = None,
) -> SweepResult:
    """Signed estimates of `resid_pre_sweep` with the QK fix (see the module docstring);
    one forward and one backward per layer."""
    base_input, layers, names, source_logits, source_cache = source_run(
        view, clean, corrupt, direction, layers
    )
    if torch.is_floating_point(base_input):
        base_input = base_input.detach().requires_grad_(True)
    rows: list[Tensor] = []
    groups: list[list[int]] = []
    base_logits: Tensor | None = None
    base_value = 0.0
    for layer, name in zip(layers, names):
        kept: dict[str, Tensor] = {}

        def keep(x: Tensor, hook: NamedHook) -> None:
            kept[hook.name.rsplit(".", 1)[-1]] = x

        def keep_detached(x: Tensor, hook: NamedHook) -> Tensor:
            kept[hook.name.rsplit(".", 1)[-1]] = x.detach()
            return x.detach()

        def scores_leaf(x: Tensor, hook: NamedHook) -> Tensor:
            # This layer's queries and keys are detached, so the scores start the graph here
            # and the pattern (softmax of them) carries the gradient d metric / d pattern.
            return x.detach().requires_grad_(True)

        attn = f"blocks.{layer}.attn"
        q_hook, k_hook = view.qk_hook_names
        hooks = [
            (name, keep),
            (f"{attn}.{q_hook}", keep_detached),
            (f"{attn}.{k_hook}", keep_detached),
            (f"{attn}.hook_attn_scores", scores_leaf),
            (f"{attn}.hook_pattern", keep),
        ]
        with torch.enable_grad():
            logits = view.run_with_hooks(base_input, fwd_hooks=hooks)
            value = metric(logits)
            if torch.as_tensor(value).ndim != 0:
                raise ValueError(
                    f"The metric must return a scalar, got shape {tuple(value.shape)}."
                )
            grad_resid, grad_pattern = torch.autograd.grad(
                value, [kept["hook_resid_pre"], kept["hook_pattern"]], allow_unused=True
            )
        with torch.no_grad():
            base_resid, source_resid = kept["hook_resid_pre"].detach(), source_cache[name]
            dtype = accumulation_dtype(base_resid)
            linear = (
                torch.zeros(base_resid.shape[1], device=base_resid.device, dtype=dtype)
                if grad_resid is None
                else ((source_resid - base_resid) * grad_resid).sum(dim=(0, 2), dtype=dtype)
            )
            q_new, k_new = view.query_key(layer, source_resid)
            qk = (
                torch.zeros_like(linear)
                if grad_pattern is None
                else qk_pattern_effect(
                    kept["hook_pattern"].detach(),
                    grad_pattern,
                    kept[q_hook],
                    view.key_heads(layer, kept[k_hook]),
                    q_new,
                    k_new,
                    causal=view.causal,
                )
            )
        effects = (linear + qk.to(linear.dtype))[None]
        groups = groups or as_position_groups(cells, effects.shape[1])
        rows.append(cell_sums(effects, groups)[0])
        base_logits, base_value = logits.detach(), float(value.detach())
    values = base_value + torch.stack(rows)
    assert base_logits is not None  # check_layers refuses an empty list of layers
    return estimate_result(
        view,
        values,
        layers,
        groups,
        "resid_pre (AtP* QK fix)",
        direction,
        metric,
        source_logits,
        base_logits,
    )
