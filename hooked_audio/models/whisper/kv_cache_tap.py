"""`KVCacheTap`: where openai-whisper's decoding code keeps its key/value cache.

openai-whisper's `decode` keys its KV cache by the modules `decoder.blocks[i].attn.key` and
`.attn.value`: a forward hook on each stores the projected keys/values `[batch, pos, d_model]`
and returns the cached sequence so far, and beam search reorders `cache[module]` by batch.
Our projections live as `W_K`/`W_V` parameters in TransformerLens layout, so
`WhisperAttention` passes its flattened projections through this identity module:
whisper's own hooks then work unchanged on a `HookedWhisper`.
"""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor, nn


class KVCacheTap(nn.Module):
    """Identity on `[batch, pos, n_heads * d_head]`; a place for KV-cache forward hooks."""

    def forward(self, x: Float[Tensor, "batch pos d_proj"]) -> Float[Tensor, "batch pos d_proj"]:
        return x
