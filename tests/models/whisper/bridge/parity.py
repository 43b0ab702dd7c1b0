"""Compare a Whisper TransformerBridge's cache with HookedWhisper's, hook by hook."""

from __future__ import annotations

import torch

from hooked_audio.models.whisper.bridge.hook_names import as_hooked_whisper, bridge_hook_name


def worst_hook_differences(hooked_cache, bridge_cache) -> dict[str, float]:
    """{HookedWhisper hook: max |difference| / max |activation|} over every HookedWhisper hook
    (masked attention scores, -inf in HookedWhisper, compared where finite)."""
    differences = {}
    for name, expected in hooked_cache.items():
        got = as_hooked_whisper(name, bridge_cache[bridge_hook_name(name)])
        if name.endswith("hook_pos_embed"):
            got = got.expand_as(expected)  # HF adds the encoder positions without a batch axis
        assert got.shape == expected.shape, f"{name}: {tuple(got.shape)} vs {tuple(expected.shape)}"
        finite = torch.isfinite(expected)
        assert torch.isfinite(got[finite]).all(), name
        scale = expected[finite].abs().max().clamp_min(1e-6)
        differences[name] = ((got[finite] - expected[finite]).abs().max() / scale).item()
    return differences
