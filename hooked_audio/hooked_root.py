"""`HookedAudioRoot`: TransformerLens's `HookedRootModule` with what every hooked audio model
adds: `run_with_cache` returning an `ActivationCache`, and hook names checked with a
`KeyError` that suggests close matches instead of failing deep inside a forward."""

from __future__ import annotations

import difflib
from typing import Any

from torch import Tensor
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
    #: example hook names quoted in the unknown-name error
    hook_examples: str = "'blocks.0.hook_resid_pre'"

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
