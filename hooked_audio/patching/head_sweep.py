"""Per-head patching at any attention hook of a stream, cross-attention included.

`transformer_lens.utilities.get_act_name` builds `blocks.{l}.attn.hook_z` and cannot name a
decoder block's second attention (the one that reads the audio), so TransformerLens's head
functions cannot reach those heads. This sweep patches one head at a time at
`blocks.{l}.{component}.hook_{act}` (`component` one of the view's `attention_names`, by
default its last: the one that reads another stack where there is one; `act` in z / q / k /
v / pattern / result, or several of them patched together such as a cross-attention head's
keys and values), over all positions, position by position, or over groups of positions (the
frames of a word), on the one sweep engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import ActivationCache

from hooked_audio.checks import check_labels, check_layers
from hooked_audio.patching.batch_memory import resolve_batch_size
from hooked_audio.patching.cells import Cells, as_position_groups
from hooked_audio.patching.checks import check_component, check_direction
from hooked_audio.patching.directions import Direction
from hooked_audio.patching.engine import HookSpec, Patch, run_sweep
from hooked_audio.patching.runs import BaseAndSource, given_source
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.streams.protocol import AudioStream, NamedHook, StreamInput

HEAD_ACTS = ("z", "q", "k", "v", "pattern", "result")


def head_index(act: str, heads: int | list[int], positions: list[int] | None) -> tuple:
    """Where `heads` at `positions` (None: every position) sit in a head act: the query axis
    of a pattern `[batch, head, query, key]`, else `[batch, pos, head, d_head]`."""
    where = slice(None) if positions is None else positions
    if act == "pattern":
        return (slice(None), heads, where)
    return (slice(None), where, heads)


@dataclass
class HeadPatch(Patch):
    """One head of `blocks.{l}.{component}.hook_{act}` for each act in `acts`, at some
    positions (or all), from the source run. Cells are `(head, positions)` pairs, `positions`
    None for every position, else a list of positions of the act's position axis (the query
    axis of a pattern; for a cross-attention's keys and values, the other stack's)."""

    component: str
    acts: tuple[str, ...]
    cells: list[tuple[int, list[int] | None]]

    def source_names(self, layers: Sequence[int]) -> list[str]:
        return [f"blocks.{layer}.{self.component}.hook_{a}" for layer in layers for a in self.acts]

    def apply(
        self,
        layer: int,
        cells: list[int],
        resid: Float[Tensor, "cell_rows pos d_model"],
        rows: int,
        runs: BaseAndSource,
    ) -> tuple[Float[Tensor, "cell_rows pos d_model"], list[HookSpec]]:
        def hook_for(act: str) -> HookSpec:
            name = f"blocks.{layer}.{self.component}.hook_{act}"
            source = runs.source_cache[name]

            def patch(activation: Tensor, hook: NamedHook) -> Tensor:
                activation = activation.clone()
                for k, cell in enumerate(cells):
                    index = head_index(act, *self.cells[cell])
                    activation[k * rows : (k + 1) * rows][index] = source[index]
                return activation

            return name, patch

        return resid, [hook_for(act) for act in self.acts]


@dataclass
class HeadCells:
    """What a per-head sweep patches, checked: the attention, the acts, the layers, and its
    cells `(head, positions)` head-major with their labels."""

    component: str
    acts: tuple[str, ...]
    layers: list[int]
    cells: list[tuple[int, list[int] | None]]
    labels: list[str]


def head_cells(
    base_view: AudioStream,
    source_cache: ActivationCache,
    component: str | None,
    act: str | Sequence[str],
    by_pos: bool,
    layers: Sequence[int] | None,
    direction: Direction,
    positions: Cells | None,
    position_labels: Sequence[str] | None,
) -> HeadCells:
    """The arguments of `head_sweep` (and of its estimates) checked, as the cells to patch;
    `component` None is the view's last attention."""
    component = check_component(base_view, component)
    acts = (act,) if isinstance(act, str) else tuple(act)
    bad = [a for a in acts if a not in HEAD_ACTS]
    if not acts or bad:
        raise ValueError(f"act must be one or more of {HEAD_ACTS}, got {act!r}.")
    if "pattern" in acts and len(acts) > 1:
        raise ValueError(
            "A pattern's position axis is the query, the other acts' is their own sequence: "
            "patch `pattern` on its own."
        )
    if by_pos and positions is not None:
        raise ValueError("Give `by_pos=True` or `positions`, not both.")
    check_direction(direction)
    source_model = getattr(source_cache.model, "model", source_cache.model)
    if source_model is not base_view.model:
        raise ValueError(
            "The source cache comes from a different model than the view: patch "
            "between runs of one model (cache with `view.run_with_cache`)."
        )
    layers = check_layers(layers, base_view.cfg.n_layers)
    names = [f"blocks.{layer}.{component}.hook_{a}" for layer in layers for a in acts]
    if names[0] not in base_view.hook_dict:
        inside = f"blocks.0.{component}.hook_"
        raise ValueError(
            f"This stream has no {names[0]!r}: {component!r} has the head acts "
            f"{[n[len(inside) :] for n in base_view.hook_dict if n.startswith(inside)]}."
        )
    missing = [name for name in names if name not in source_cache.cache_dict]
    if missing:
        raise KeyError(
            f"The source cache has no {missing[0]!r}: cache it with "
            f"`view.run_with_cache(x)` (for `result`, enable use_attn_result)."
        )
    first = source_cache[names[0]]
    n_heads = first.shape[1 if acts[0] == "pattern" else 2]
    n_pos = first.shape[2 if acts[0] == "pattern" else 1]
    groups: Sequence[list[int] | None]  # None: every position
    group_labels: Sequence[str | None]
    if by_pos:
        groups, group_labels = [[p] for p in range(n_pos)], [str(p) for p in range(n_pos)]
    elif positions is not None:
        groups = as_position_groups(positions, n_pos)
        group_labels = check_labels(position_labels, len(groups)) or [
            str(g[0]) if len(g) == 1 else f"{g[0]}-{g[-1]}" for g in groups
        ]
    else:
        groups, group_labels = [None], [None]
    cells = [(h, g) for h in range(n_heads) for g in groups]
    labels = [
        f"H{h}" if label is None else f"H{h}@{label}"
        for h in range(n_heads)
        for label in group_labels
    ]
    return HeadCells(component, acts, layers, cells, labels)


def head_sweep(
    base_view: AudioStream,
    base_input: StreamInput,
    source_cache: ActivationCache,
    metric: Callable[[Tensor], Tensor],
    component: str | None = None,
    act: str | Sequence[str] = "z",
    by_pos: bool = False,
    layers: Sequence[int] | None = None,
    direction: Direction = "denoise",
    reference_values: tuple[float, float] = (float("nan"), float("nan")),
    progress: bool | tqdm = True,
    batch_size: int | None = None,
    positions: Cells | None = None,
    position_labels: Sequence[str] | None = None,
) -> SweepResult:
    """Run the base input once per (layer, head[, pos]) with that head's `act` taken from
    `source_cache` (a cache of the same model's view, keyed by local names); each run
    resumes at the patched layer from the cached base run.

    `component`: one of the view's `attention_names`; None for its last (a decoder's
    cross-attention, else its self-attention "attn").
    Returns a `SweepResult` whose cells are heads, or head x position flattened head-major:
    every position on its own with `by_pos`, or the groups of positions `positions` (cells as
    in `layer_sweep`, e.g. a word's frames from `hooked_audio.patching.time_cells`, named by
    `position_labels`). `act` may be several acts patched together at the same head and
    positions, e.g. `("k", "v")` for what a cross-attention head reads from some audio
    frames. `reference_values` = (clean, corrupt) metric values for normalisation (the caller
    ran those inputs; NaN when unknown). `progress`: show a bar, or a `tqdm` bar to advance.
    """
    plan = head_cells(
        base_view,
        source_cache,
        component,
        act,
        by_pos,
        layers,
        direction,
        positions,
        position_labels,
    )
    acts = "+".join(plan.acts)
    return run_sweep(
        base_view,
        given_source(base_view, base_input, source_cache, direction),
        HeadPatch(plan.component, plan.acts, plan.cells),
        plan.layers,
        [[h] for h, _ in plan.cells],
        plan.labels,
        metric,
        resolve_batch_size(batch_size, base_view, base_input, len(plan.cells)),
        progress,
        f"{plan.component} {acts} heads",
        reference=reference_values,
        act=f"{plan.component}.{acts}",
    )
