"""Causal grouped-query self-attention with rotary positions (Qwen2, Llama), in
TransformerLens's layout.

Parameters: `W_Q [n_heads, d_model, d_head]`, `_W_K, _W_V [n_key_value_heads, d_model, d_head]`
(`W_K` / `W_V` give them repeated per query head, as TransformerLens does), `W_O`, and
biases `b_Q`, `_b_K`, `_b_V`, `b_O` (zero where the checkpoint has none).

Hooks, all time-major: `hook_q [batch, pos, head, d_head]`, `hook_k`, `hook_v
[batch, pos, kv_head, d_head]` (before rotation), `hook_rot_q`, `hook_rot_k` (after),
`hook_attn_scores`, `hook_pattern [batch, head, query, key]` (only computed when someone
listens), `hook_z`, and `hook_result` when `use_attn_result` is on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components.attend import allowed_keys, attend, attention_output
from hooked_audio.components.rotary import RotaryEmbedding
from hooked_audio.hook_point import AudioHookPoint


class LayerKVCache:
    """Rotated keys and values of the positions seen so far, for incremental decoding."""

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        self.k = k if self.k is None else torch.cat([self.k, k], dim=1)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=1)
        return self.k, self.v


class GroupedQueryAttention(nn.Module):
    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_key_value_heads: int,
        d_head: int,
        use_attn_result: bool = False,
    ):
        super().__init__()
        if n_heads % n_key_value_heads:
            raise ValueError(
                f"n_heads={n_heads} is not a multiple of n_key_value_heads={n_key_value_heads}."
            )
        self.n_heads, self.n_key_value_heads, self.d_head = n_heads, n_key_value_heads, d_head
        self.use_attn_result = use_attn_result
        self.W_Q = nn.Parameter(torch.empty(n_heads, d_model, d_head))
        self._W_K = nn.Parameter(torch.empty(n_key_value_heads, d_model, d_head))
        self._W_V = nn.Parameter(torch.empty(n_key_value_heads, d_model, d_head))
        self.W_O = nn.Parameter(torch.empty(n_heads, d_head, d_model))
        self.b_Q = nn.Parameter(torch.zeros(n_heads, d_head))
        self._b_K = nn.Parameter(torch.zeros(n_key_value_heads, d_head))
        self._b_V = nn.Parameter(torch.zeros(n_key_value_heads, d_head))
        self.b_O = nn.Parameter(torch.zeros(d_model))
        self.hook_q = AudioHookPoint()  # [batch, pos, head, d_head]
        self.hook_k = AudioHookPoint()  # [batch, pos, kv_head, d_head]
        self.hook_v = AudioHookPoint()  # [batch, pos, kv_head, d_head]
        self.hook_rot_q = AudioHookPoint()  # [batch, pos, head, d_head]
        self.hook_rot_k = AudioHookPoint()  # [batch, pos, kv_head, d_head]
        self.hook_attn_scores = AudioHookPoint()  # [batch, head, query, key]
        self.hook_pattern = AudioHookPoint()  # [batch, head, query, key]
        self.hook_z = AudioHookPoint()  # [batch, pos, head, d_head]
        self.hook_result = AudioHookPoint()  # [batch, pos, head, d_model]

    @property
    def repeats(self) -> int:
        return self.n_heads // self.n_key_value_heads

    W_K = property(lambda self: self._W_K.repeat_interleave(self.repeats, dim=0))
    W_V = property(lambda self: self._W_V.repeat_interleave(self.repeats, dim=0))
    b_K = property(lambda self: self._b_K.repeat_interleave(self.repeats, dim=0))
    b_V = property(lambda self: self._b_V.repeat_interleave(self.repeats, dim=0))

    @staticmethod
    def project(x: Tensor, W: Tensor, b: Tensor) -> Float[Tensor, "batch pos head d_head"]:
        """`x @ W + b` per head, `[batch, pos, head, d_head]`."""
        weight = W.permute(0, 2, 1).reshape(-1, W.shape[1]).to(x.dtype)
        out = F.linear(x, weight, b.reshape(-1).to(x.dtype))
        return out.view(*x.shape[:2], W.shape[0], W.shape[2])

    def _needs_pattern(self) -> bool:
        return self.hook_attn_scores.has_listeners() or self.hook_pattern.has_listeners()

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        cos: Tensor,
        sin: Tensor,
        allowed: Bool[Tensor, "batch 1 query key"] | None,
        kv_cache: LayerKVCache | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """`allowed` (causal and padding, see `attend.allowed_keys`) spans the cached keys too;
        None means plain causal attention (no padding)."""
        q = self.hook_q(self.project(x, self.W_Q, self.b_Q))
        k = self.hook_k(self.project(x, self._W_K, self._b_K))
        v = self.hook_v(self.project(x, self._W_V, self._b_V))
        q = self.hook_rot_q(RotaryEmbedding.rotate(q, cos, sin))
        k = self.hook_rot_k(RotaryEmbedding.rotate(k, cos, sin))
        if kv_cache is not None:
            k, v = kv_cache.extend(k, v)
        if self.repeats > 1:
            k, v = (
                k.repeat_interleave(self.repeats, dim=2),
                v.repeat_interleave(self.repeats, dim=2),
            )
        materialise, plain_causal = self._needs_pattern(), allowed is None
        if plain_causal and (materialise or 1 < q.shape[1] < k.shape[1]):
            allowed = allowed_keys(q.shape[1], True, None, k.shape[1], q.device)
        z, _ = attend(
            q,
            k,
            v,
            allowed,
            1.0 / math.sqrt(self.d_head),
            materialise,
            self.hook_attn_scores,
            self.hook_pattern,
            plain_causal=plain_causal,
        )
        z = self.hook_z(z)
        return attention_output(z, self.W_O, self.b_O, self.use_attn_result, self.hook_result)
