"""`WhisperAttention`: the shared `Attention` speaking openai-whisper's inference protocol.

openai-whisper's decoding and word-timing code reach into the decoder's attention modules:

- `whisper.decoding` keys its KV cache by the modules `attn.key` / `attn.value` (and
  `cross_attn.key` / `.value`): forward hooks on them store the projected keys and values
  `[batch, key_pos, d_model]`. Here they are `KVCacheTap` identity modules the flattened
  projections pass through; cross-attention keys and values already in the cache dict are
  reused instead of being projected again.
- `whisper.timing.find_alignment` registers a forward hook on each `cross_attn` and reads the
  pre-softmax scores as the last item of its output, so this module returns
  `(output, scores)`. A forward hook on the module makes it materialise the pattern (as a hook
  on `hook_attn_scores` / `hook_pattern` does), so the scores are there to read.
"""

from __future__ import annotations

from jaxtyping import Bool, Float
from torch import Tensor

from hooked_audio.components.attention import Attention
from hooked_audio.models.whisper.kv_cache_tap import KVCacheTap


class WhisperAttention(Attention):
    """Self- or cross-attention of Whisper's decoder. Returns `(output, scores)`; `scores` is
    None on the fused path (nothing listening to the pattern and no forward hook)."""

    def __init__(self, d_model: int, n_heads: int, use_attn_result: bool = False):
        super().__init__(d_model, n_heads, use_attn_result)
        self.key = KVCacheTap()  # [batch, key_pos, n_heads * d_head], whisper's KV cache key
        self.value = KVCacheTap()  # [batch, key_pos, n_heads * d_head]

    def _needs_pattern(self) -> bool:
        return super()._needs_pattern() or bool(self._forward_hooks)

    def forward(
        self,
        x: Float[Tensor, "batch query_pos d_model"],
        source: Float[Tensor, "batch key_pos d_model"] | None = None,
        causal: bool = False,
        key_valid: Bool[Tensor, "batch key_pos"] | None = None,
        kv_cache: dict | None = None,
    ) -> tuple[Float[Tensor, "batch query_pos d_model"], Tensor | None]:
        """`source=None` is self-attention; a tensor is cross-attention onto it. `kv_cache` is
        openai-whisper's cache dict, keyed by `self.key` / `self.value` (see
        `HookedWhisper.install_kv_cache_hooks`)."""
        q = self.queries(x)
        if kv_cache is not None and source is not None and self.key in kv_cache:
            k_flat, v_flat = kv_cache[self.key], kv_cache[self.value]
        else:
            kv_in = x if source is None else source
            k_flat = self.key(self.project(kv_in, self.W_K, self.b_K))
            v_flat = self.value(self.project(kv_in, self.W_V, self.b_V))
        return self.attend(q, k_flat, v_flat, causal, key_valid)
