"""Stream views: one stack of a two-stack model, presented as a TransformerLens model.

TransformerLens's patching functions and `ActivationCache` helpers assume one stack named
`blocks.{l}...`, one positional input whose last axis is the position, and `cfg` describing
that stack (DESIGN.md §2). A view binds the other stack's input and translates names both
ways, so those functions run unchanged:

    view = model.encoder_stream(tokens)           # input: framed audio, pos = 20 ms frame
    view = model.decoder_stream(audio)            # input: token ids,     pos = token
    logits, cache = view.run_with_cache(x)        # ActivationCache keyed `blocks.{l}...`
    transformer_lens.patching.get_act_patch_resid_pre(view, corrupt_x, cache, metric)

Hook functions receive a hook object whose `.name` is the view's local name
(`blocks.3.hook_resid_pre`), as they would on a one-stack TransformerLens model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import SimpleNamespace
from typing import Any

import einops
import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import ActivationCache
from transformer_lens.config import TransformerLensConfig
from transformer_lens.hook_points import HookPoint

from hooked_audio.cache_memory import StackExtent
from hooked_audio.hooked_root import check_hook_name, check_names_filter
from hooked_audio.streams.protocol import ViewInput, check_stream

HookSpec = tuple[str | Callable[[str], bool], Callable]


class LocalHookName:
    """What a hook function sees as `hook`: the real `HookPoint`, under the view's local name."""

    def __init__(self, hook_point: HookPoint, name: str):
        self._hook_point, self.name = hook_point, name

    def layer(self) -> int:
        match = re.search(r"\.(\d+)\.", f".{self.name}.")
        if match is None:
            raise ValueError(f"Hook point {self.name!r} does not belong to a layer.")
        return int(match.group(1))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._hook_point, attr)


class StreamView:
    """Base class: `prefix` + local name = full name, except for the names in `aliases`."""

    #: local name -> full-model name, for the few names that do not just take the prefix
    aliases: dict[str, str] = {}
    #: full-name prefixes that belong to other stacks although they match `prefix`
    excluded: tuple[str, ...] = ()

    def __init__(self, model: Any, prefix: str):
        self.model = model
        self.prefix = prefix
        aliases = {**self.aliases}
        self._to_full: dict[str, str] = {}
        self._to_local: dict[str, str] = {}
        for full in model.hook_dict:
            if not full.startswith(prefix) or full.startswith(self.excluded):
                continue
            local = full[len(prefix) :]
            for alias_local, alias_full in aliases.items():
                if full == alias_full or full.startswith(alias_full + "."):
                    local = alias_local + full[len(alias_full) :]
            self._to_full[local] = full
            self._to_local[full] = local
        check_stream(self)

    # ------------------------------------------------------------ what TransformerLens reads
    @property
    def stack(self) -> Any:
        """The model's module for this stack (`cfg`, `blocks`, ...: a family's own class)."""
        return getattr(self.model, self.prefix.rstrip("."))

    @property
    def cfg(self) -> TransformerLensConfig:
        cfg = self.stack.cfg
        cfg.device = str(self.model.device)
        return cfg

    @property
    def blocks(self) -> torch.nn.ModuleList:
        return self.stack.blocks

    @property
    def hook_dict(self) -> dict[str, HookPoint]:
        return {local: self.model.hook_dict[full] for local, full in self._to_full.items()}

    @property
    def device(self) -> torch.device:
        return self.model.device

    def to_tokens(self, *args: Any, **kwargs: Any) -> Tensor:
        return self.model.to_tokens(*args, **kwargs)

    def to_string(self, *args: Any, **kwargs: Any) -> str | list[str]:
        return self.model.to_string(*args, **kwargs)

    def to_str_tokens(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.model.to_str_tokens(*args, **kwargs)

    def to_single_token(self, string: str) -> int:
        return self.model.to_single_token(string)

    # ------------------------------------------------------------ names
    def full_name(self, local: str) -> str:
        if local not in self._to_full:
            check_hook_name(
                local, self._to_full, "'blocks.0.hook_resid_pre' or 'blocks.0.attn.hook_pattern'"
            )
        return self._to_full[local]

    def local_name(self, full: str) -> str:
        return self._to_local.get(full, full)

    def _translate(self, hooks: Sequence[HookSpec]) -> list[HookSpec]:
        out: list[HookSpec] = []
        for name, fn in hooks:
            wrapped = self._rename_for(fn)
            if isinstance(name, str):
                out.append((self.full_name(name), wrapped))
            else:
                out.append((partial(self._selects, name), wrapped))
        return out

    def _selects(self, local_filter: Callable[[str], bool], full: str) -> bool:
        """Whether a hook filter on local names selects the full-model hook `full`."""
        return full in self._to_local and local_filter(self._to_local[full])

    def _rename_for(self, fn: Callable) -> Callable:
        # TransformerLens's patching binds the activation it patches in as
        # `partial(..., clean_activation=cache[name])`: one of another shape (a cache of
        # another model, or of another batch, which indexing would broadcast) is refused.
        bound = fn.keywords.get("clean_activation") if isinstance(fn, partial) else None

        def hook(tensor: Tensor, hook: HookPoint) -> Any:
            local = self.local_name(str(hook.name))
            if isinstance(bound, Tensor) and bound.shape != tensor.shape:
                raise ValueError(
                    f"The activation patched in at {local!r} is {tuple(bound.shape)}, but this "
                    f"stream's is {tuple(tensor.shape)}: the cache comes from another model or "
                    "another input. Cache the clean input with this view's run_with_cache "
                    "(same model, same batch) and patch from that."
                )
            return fn(tensor, hook=LocalHookName(hook, local))

        return hook

    # ------------------------------------------------------------ attention internals
    #: the hooks holding the queries and keys the attention pattern is computed from
    qk_hook_names: tuple[str, str] = ("hook_q", "hook_k")

    def query_key(self, layer: int, resid_pre: Tensor) -> tuple[Tensor, Tensor]:
        """Block `layer`'s queries and keys `[batch, pos, head, d_head]` for a residual stream,
        as its attention pattern sees them (AtP*'s QK fix recomputes them)."""
        block: Any = self.blocks[layer]
        normed = block.ln1(resid_pre)
        attn = block.attn
        return (
            attn.split_heads(attn.project(normed, attn.W_Q, attn.b_Q)),
            attn.split_heads(attn.project(normed, attn.W_K, attn.b_K)),
        )

    def key_heads(self, layer: int, k: Tensor) -> Tensor:
        """Keys as cached at `qk_hook_names[1]`, one per query head."""
        return k

    def cache_extent(self, x: ViewInput) -> StackExtent:
        """The sizes of this stack's hooks for input `x` (its last axis is the position), for
        the memory estimate of `run_with_cache`."""
        x = torch.as_tensor(x)  # token ids may come as a list
        if x.ndim == 1:
            x = x[None]
        return StackExtent.of(self.cfg, x.shape[0], x.shape[-1])

    #: the attentions of a block that write to the residual stream
    attention_names: tuple[str, ...] = ("attn",)

    @property
    def block_writers(self) -> tuple[str, ...]:
        """The parts of a block that write to the residual stream: its attentions, then "mlp".
        Part `p` of block `l` writes `blocks.{l}.hook_{p}_out`."""
        return (*self.attention_names, "mlp")

    @property
    def layer_acts(self) -> tuple[str, ...]:
        """The activations `act` of a block, `blocks.{l}.hook_{act}` `[batch, pos, d_model]`,
        that a layer sweep can patch: every hook of block 0 that is not inside one of its
        parts (its residual streams, and what each of `block_writers` writes)."""
        return tuple(
            name[len("blocks.0.hook_") :]
            for name in self.hook_dict
            if name.startswith("blocks.0.hook_") and name.count(".") == 2
        )

    def accumulated_bias(
        self, layer: int, mlp_input: bool = False, include_mlp_biases: bool = True
    ) -> Float[Tensor, " d_model"]:
        """Sum of the output biases written to the residual stream before `layer` (each
        attention's `b_O`, the MLP's `b_out`), as TransformerLens defines it; with
        `mlp_input`, up to the input of block `layer`'s MLP. Meaningful for pre-LN stacks."""
        block: Any = self.blocks[0]
        bias = torch.zeros(self.cfg.d_model, device=self.device, dtype=block.mlp.b_out.dtype)
        for i, block in enumerate(self.blocks[: layer + int(mlp_input)]):
            for name in self.attention_names:
                bias = bias + getattr(block, name).b_O
            if include_mlp_biases and i < layer:
                bias = bias + block.mlp.b_out
        return bias

    def input_seconds(self, x: Tensor) -> float | None:
        """Seconds of real audio in an input (before padding), or None where the view cannot
        tell (text stacks, unpadded inputs): sweeps use it to warn when clean and corrupt
        clips differ in duration."""
        return None

    # ------------------------------------------------------------ running
    def forward(self, x: ViewInput) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: ViewInput) -> Tensor:
        if any(m.training for m in self.model.modules()):
            raise ValueError("The model is in training mode; call model.eval() before patching.")
        return self.forward(x)

    @contextmanager
    def hooks(
        self,
        fwd_hooks: Sequence[HookSpec] = (),
        bwd_hooks: Sequence[HookSpec] = (),
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
    ) -> Iterator[StreamView]:
        with self.model.hooks(
            fwd_hooks=self._translate(fwd_hooks),
            bwd_hooks=self._translate(bwd_hooks),
            reset_hooks_end=reset_hooks_end,
            clear_contexts=clear_contexts,
        ):
            yield self

    def run_with_hooks(
        self,
        x: ViewInput,
        fwd_hooks: Sequence[HookSpec] = (),
        bwd_hooks: Sequence[HookSpec] = (),
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
    ) -> Tensor:
        with self.hooks(fwd_hooks, bwd_hooks, reset_hooks_end, clear_contexts):
            return self(x)

    def run_with_cache(
        self,
        x: ViewInput,
        names_filter: Any = None,
        device: Any = None,
        remove_batch_dim: bool = False,
        incl_bwd: bool = False,
        reset_hooks_end: bool = True,
        clear_contexts: bool = False,
        pos_slice: Any = None,
    ) -> tuple[Tensor, ActivationCache]:
        """`(output, ActivationCache)` of this stack's hooks, keyed by local names. Named hooks
        are checked (a "did you mean" error for a name this stack lacks), and a cache that
        cannot fit in memory is refused before anything runs."""
        names_filter = check_names_filter(
            names_filter, self._to_full, "'blocks.0.hook_resid_pre' or 'blocks.0.attn.hook_pattern'"
        )
        local_filter = _as_filter(names_filter)
        selected = self.model.cached_names(
            [full for local, full in self._to_full.items() if local_filter(local)]
        )
        self.model.check_cache_fits(selected, {self.prefix: self.cache_extent(x)}, device, incl_bwd)
        cache_dict, fwd, bwd = self.model.get_caching_hooks(
            lambda full: full in self._to_local and local_filter(self._to_local[full]),
            incl_bwd,
            device,
            remove_batch_dim=remove_batch_dim,
            pos_slice=pos_slice,
        )
        with self.model.hooks(
            fwd_hooks=fwd,
            bwd_hooks=bwd,
            reset_hooks_end=reset_hooks_end,
            clear_contexts=clear_contexts,
        ):
            out = self(x)
            if incl_bwd:
                out.backward()
        local = {}
        for key, value in cache_dict.items():
            grad = key.endswith("_grad")
            base = key[: -len("_grad")] if grad else key
            local[self.local_name(base) + ("_grad" if grad else "")] = value
        return out, self.make_cache(local, has_batch_dim=not remove_batch_dim)

    def make_cache(self, cache_dict: dict[str, Tensor], has_batch_dim: bool) -> ActivationCache:
        return ActivationCache(cache_dict, self, has_batch_dim=has_batch_dim)


class UnembedSurface:
    """What `ActivationCache.logit_attrs` and friends read from a view whose output is logits:
    `unembed.W_U` / `b_U` and `tokens_to_residual_directions`. Needs `W_U`, `b_U` and
    `to_single_token` on the view."""

    W_U: Float[Tensor, "d_model d_vocab"]
    b_U: Float[Tensor, " d_vocab"]
    to_single_token: Callable[[str], int]

    @property
    def unembed(self) -> SimpleNamespace:
        return SimpleNamespace(W_U=self.W_U, b_U=self.b_U)

    def tokens_to_residual_directions(
        self, tokens: str | int | Tensor
    ) -> Float[Tensor, "... d_model"]:
        """The unembedding direction(s) of token(s): `W_U[:, token]`."""
        if isinstance(tokens, str):
            tokens = self.to_single_token(tokens)
        if isinstance(tokens, int):
            return self.W_U[:, tokens]
        return einops.rearrange(self.W_U[:, tokens], "d_model ... -> ... d_model")


def bound_rows(x: Tensor | None, batch: int, what: str) -> Tensor | None:
    """A tensor a view binds, for an input of `batch` rows: itself; a bound batch of 1 shared
    by every row; or, when the input stacks whole copies of the bound batch (as the sweep
    engine does, one copy per cell), the bound batch repeated as many times. None stays None."""
    if x is None or x.shape[0] == batch:
        return x
    if x.shape[0] == 1:
        return x.expand(batch, *x.shape[1:])
    if x.shape[0] and batch % x.shape[0] == 0:
        return x.repeat(batch // x.shape[0], *([1] * (x.ndim - 1)))
    raise ValueError(
        f"The bound {what} has batch {x.shape[0]}, the input has batch {batch}: "
        "bind one item (batch 1, shared) or exactly as many as the input."
    )


def _as_filter(names_filter: Any) -> Callable[[str], bool]:
    if names_filter is None:
        return lambda name: True
    if isinstance(names_filter, str):
        return lambda name: name == names_filter
    if callable(names_filter):
        return names_filter
    allowed = set(names_filter)
    return lambda name: name in allowed
