"""openai-whisper's KV-cache protocol on a `HookedWhisper`.

`whisper.decoding` calls `model.install_kv_cache_hooks()` and keys its cache by the modules
`decoder.blocks[i].attn.key` / `.attn.value` (and, for cross-attention, `.cross_attn.key` /
`.value`): the `KVCacheTap` identity modules of `WhisperAttention`. The rules are openai-whisper's:
self-attention entries grow by concatenation along positions, cross-attention entries
(longer than the text context, or the first call) are stored once and reused.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from hooked_audio.models.whisper.attention import WhisperAttention


def install_kv_cache_hooks(
    decoder: nn.Module, n_text_ctx: int, cache: dict | None = None
) -> tuple[dict, list[RemovableHandle]]:
    """Returns `(cache, hooks)` exactly as openai-whisper's `Whisper.install_kv_cache_hooks`."""
    cache = {**cache} if cache is not None else {}
    handles: list[RemovableHandle] = []

    def save_to_cache(module: nn.Module, _inputs, output: torch.Tensor) -> torch.Tensor:
        if module not in cache or output.shape[1] > n_text_ctx:
            cache[module] = output
        else:
            cache[module] = torch.cat([cache[module], output], dim=1).detach()
        return cache[module]

    for module in decoder.modules():
        if isinstance(module, WhisperAttention):
            handles.append(module.key.register_forward_hook(save_to_cache))
            handles.append(module.value.register_forward_hook(save_to_cache))
    return cache, handles
