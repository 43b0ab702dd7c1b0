"""`HookedAudioRoot`: TransformerLens's `HookedRootModule` with what every hooked audio model
adds: `run_with_cache` returning an `ActivationCache`, and hook names checked with a
`KeyError` that suggests close matches instead of failing deep inside a forward."""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import torch
from torch import Tensor
from transformer_lens import ActivationCache, HookedRootModule
from transformer_lens.config import TransformerLensConfig

from hooked_audio.cache_memory import StackExtent, cache_bytes, check_cache_fits
from hooked_audio.sae_splice import add_sae, remove_saes, spliced_saes
from hooked_audio.sae_splice import saes as spliced


def check_hook_name(name: str, hook_dict: dict, examples: str) -> None:
    """A `KeyError` that names close matches, instead of a bare missing-key error."""
    if name in hook_dict:
        return
    close = difflib.get_close_matches(name, list(hook_dict), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise KeyError(
        f"No hook point named {name!r}.{hint} Names look like {examples}; "
        "`model.hook_names()` lists them all."
    )


def check_names_filter(names_filter: Any, hook_dict: dict, examples: str) -> Any:
    """A `names_filter` with every named hook checked (`check_hook_name`); a tuple or set of
    names becomes the list TransformerLens takes. None and functions pass unchanged."""
    if names_filter is None or callable(names_filter):
        return names_filter
    names = [names_filter] if isinstance(names_filter, str) else names_filter
    if not isinstance(names, (list, tuple, set, frozenset)):
        raise TypeError(
            f"names_filter must be a hook name, a list of names or a function "
            f"name -> bool; got {type(names_filter).__name__}."
        )
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                f"names_filter lists a {type(name).__name__} ({name!r}); list hook "
                "names only, or pass one function name -> bool."
            )
        check_hook_name(name, hook_dict, examples)
    return names_filter if isinstance(names_filter, (str, list)) else list(names_filter)


#: `run_with_cache` keywords that are TransformerLens's options, not the model's inputs
_CACHE_OPTIONS = ("reset_hooks_end", "clear_contexts", "pos_slice")


class HookedAudioRoot(HookedRootModule):
    """Every model sets `self.config`, its own configuration (with `dtype` and
    `use_attn_result`), and `self.cfg`, TransformerLens's config of the stack whose output is
    the model's output. A model of several stacks lists each stack's TransformerLens config in
    `stack_configs`."""

    #: example hook names quoted in the unknown-name error
    hook_examples: str = "'blocks.0.hook_resid_pre'"

    config: Any
    cfg: TransformerLensConfig

    @property
    def model_config(self) -> Any:
        """The model's own configuration, `self.config`."""
        return self.config

    @property
    def stack_configs(self) -> tuple[TransformerLensConfig, ...]:
        """One TransformerLens config per stack; a single-stack model has just `self.cfg`."""
        return (self.cfg,)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to(self, *args: Any, **kwargs: Any) -> HookedAudioRoot:
        """`nn.Module.to`, keeping the configs' `dtype` and `device` in step (TransformerLens
        code reads them)."""
        model = super().to(*args, **kwargs)
        dtype = next(self.parameters()).dtype
        self.model_config.dtype = dtype
        for stack_cfg in self.stack_configs:
            stack_cfg.dtype, stack_cfg.device = dtype, str(self.device)
        return model

    def init_weights(self, seed: int | None = None) -> None:
        """Random weights for random-config models: normal with std 0.02, norm weights (`w`)
        one, biases (`b*`, `_b*`, `.bias`) zero; `seed` makes them reproducible."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for name, param in self.named_parameters():
                last = name.split(".")[-1]
                if last == "w":
                    param.fill_(1.0)
                elif last.startswith(("b", "_b")) or name.endswith(".bias"):
                    param.zero_()
                else:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.02)

    def set_use_attn_result(self, use_attn_result: bool) -> None:
        """Compute per-head outputs `hook_result` `[batch, pos, head, d_model]` (costs memory)."""
        if not isinstance(use_attn_result, (bool, np.bool_)):
            raise TypeError(
                f"set_use_attn_result takes True or False, got {use_attn_result!r} "
                f"({type(use_attn_result).__name__})."
            )
        use_attn_result = bool(use_attn_result)
        self.model_config.use_attn_result = use_attn_result
        for stack_cfg in self.stack_configs:
            stack_cfg.use_attn_result = use_attn_result
        for module in self.modules():
            if hasattr(module, "use_attn_result"):
                module.use_attn_result = use_attn_result

    def run_with_cache(
        self,
        *model_args: Any,
        names_filter: Any = None,
        device: Any = None,
        remove_batch_dim: bool = False,
        incl_bwd: bool = False,
        **kwargs: Any,
    ) -> tuple[Tensor, ActivationCache]:
        """As TransformerLens: `(output, ActivationCache)` of every hook (or `names_filter`).

        Unknown hook names in `names_filter` raise a `KeyError` with close matches. A cache
        that cannot fit in the memory of its device raises `CacheTooLargeError` before
        anything runs, with the estimate and a smaller `names_filter`."""
        names_filter = check_names_filter(names_filter, self.hook_dict, self.hook_examples)
        model_kwargs = {k: v for k, v in kwargs.items() if k not in _CACHE_OPTIONS}
        self.check_cache_fits(
            self.cached_names(names_filter),
            self.cache_extents(*model_args, **model_kwargs),
            device,
            incl_bwd,
        )
        out, cache_dict = super().run_with_cache(
            *model_args,
            names_filter=names_filter,
            device=device,
            remove_batch_dim=remove_batch_dim,
            incl_bwd=incl_bwd,
            **kwargs,
        )
        return out, ActivationCache(cache_dict, self, has_batch_dim=not remove_batch_dim)

    def get_caching_hooks(self, names_filter: Any = None, *args: Any, **kwargs: Any):
        return super().get_caching_hooks(
            check_names_filter(names_filter, self.hook_dict, self.hook_examples), *args, **kwargs
        )

    def cached_names(self, names_filter: Any = None) -> list[str]:
        """The hook names a `run_with_cache(names_filter=...)` caches (per-head results only
        when `use_attn_result` is on: they are not computed otherwise)."""
        if names_filter is None:
            selected = list(self.hook_dict)
        elif isinstance(names_filter, str):
            selected = [names_filter]
        elif callable(names_filter):
            selected = [name for name in self.hook_dict if names_filter(name)]
        else:
            selected = list(names_filter)
        if not self.model_config.use_attn_result:
            selected = [name for name in selected if not name.endswith("hook_result")]
        return selected

    def cache_extents(self, *model_args: Any, **model_kwargs: Any) -> dict[str, StackExtent] | None:
        """Each stack's sizes for this input, keyed by hook-name prefix, for the memory
        estimate of `run_with_cache`; None when the model does not say (no estimate)."""
        return None

    def check_cache_fits(
        self,
        names: list[str],
        extents: dict[str, StackExtent] | None,
        device: Any = None,
        incl_bwd: bool = False,
    ) -> None:
        """Raise `CacheTooLargeError` when caching the hooks `names` (full names) of stacks
        of these `extents` cannot fit on `device` (default: the model's). A stream view can call
        it with its own stack's extent."""
        if not extents or not names:
            return
        itemsize = next(self.parameters()).element_size()
        sizes = cache_bytes(names, extents, itemsize)
        batch = max(extent.batch for extent in extents.values())
        check_cache_fits(sizes, device or self.device, batch, factor=2 if incl_bwd else 1)

    # ------------------------------------------------------------ sparse autoencoders
    def add_sae(self, sae: Any, hook_name: str | None = None, use_error_term: bool = False):
        """Splice an SAE at `hook_name` (default: the hook it was trained on), as SAELens's
        `HookedSAETransformer.add_sae`; see `hooked_audio.sae_splice`."""
        return add_sae(self, sae, hook_name, use_error_term)

    def reset_saes(self, hook_names: Any = None) -> None:
        """Remove spliced SAEs (all, or those at `hook_names`)."""
        remove_saes(self, hook_names)

    def saes(self, saes: Any, use_error_term: bool = False):
        """`with model.saes([sae]):` splices them for the block only."""
        return spliced(self, saes, use_error_term)

    @property
    def acts_to_saes(self) -> dict[str, Any]:
        """`{hook name: SAE}` of the spliced SAEs."""
        return spliced_saes(self)

    def hook_names(self) -> list[str]:
        return list(self.hook_dict)

    def _enable_hook_with_name(self, name: str, hook: Any, dir: Any) -> None:
        check_hook_name(name, self.hook_dict, self.hook_examples)
        super()._enable_hook_with_name(name, hook, dir)

    def add_hook(self, name: Any, hook: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(name, str):
            check_hook_name(name, self.hook_dict, self.hook_examples)
        super().add_hook(name, hook, *args, **kwargs)
