"""`HookedAudioRoot`: TransformerLens's `HookedRootModule` with what every hooked audio model
adds: `run_with_cache` returning an `ActivationCache`, and hook names checked with a
`KeyError` that suggests close matches instead of failing deep inside a forward."""

from __future__ import annotations

import difflib
from typing import Any, Optional

import torch
from torch import Tensor
from transformer_lens.config import TransformerLensConfig
from transformer_lens import ActivationCache, HookedRootModule


def check_hook_name(name: str, hook_dict: dict, examples: str) -> None:
    """A `KeyError` that names close matches, instead of a bare missing-key error."""
    if name in hook_dict:
        return
    close = difflib.get_close_matches(name, list(hook_dict), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise KeyError(f"No hook point named {name!r}.{hint} Names look like {examples}; "
                   "`model.hook_names()` lists them all.")


class HookedAudioRoot(HookedRootModule):
    """Subclasses say where their configuration lives: `model_config` (with `dtype` and
    `use_attn_result`) and `stack_configs` (one TransformerLens config per stack)."""

    #: example hook names quoted in the unknown-name error
    hook_examples: str = "'blocks.0.hook_resid_pre'"

    @property
    def model_config(self) -> Any:
        raise NotImplementedError

    @property
    def stack_configs(self) -> tuple[TransformerLensConfig, ...]:
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to(self, *args: Any, **kwargs: Any) -> "HookedAudioRoot":
        """`nn.Module.to`, keeping the configs' `dtype` and `device` in step (TransformerLens
        code reads them)."""
        model = super().to(*args, **kwargs)
        dtype = next(self.parameters()).dtype
        self.model_config.dtype = dtype
        for stack_cfg in self.stack_configs:
            stack_cfg.dtype, stack_cfg.device = dtype, str(self.device)
        return model

    def init_weights(self, seed: Optional[int] = None) -> None:
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
        self.model_config.use_attn_result = use_attn_result
        for stack_cfg in self.stack_configs:
            stack_cfg.use_attn_result = use_attn_result
        for module in self.modules():
            if hasattr(module, "use_attn_result"):
                module.use_attn_result = use_attn_result

    def run_with_cache(self, *model_args: Any, remove_batch_dim: bool = False,
                       **kwargs: Any) -> tuple[Tensor, ActivationCache]:
        """As TransformerLens: `(output, ActivationCache)` of every hook (or `names_filter`)."""
        out, cache_dict = super().run_with_cache(*model_args, remove_batch_dim=remove_batch_dim,
                                                 **kwargs)
        return out, ActivationCache(cache_dict, self, has_batch_dim=not remove_batch_dim)

    def hook_names(self) -> list[str]:
        return list(self.hook_dict)

    def _enable_hook_with_name(self, name: str, hook: Any, dir: Any) -> None:
        check_hook_name(name, self.hook_dict, self.hook_examples)
        super()._enable_hook_with_name(name, hook, dir)

    def add_hook(self, name: Any, hook: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(name, str):
            check_hook_name(name, self.hook_dict, self.hook_examples)
        super().add_hook(name, hook, *args, **kwargs)
