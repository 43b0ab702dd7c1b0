"""Multi-head attention in TransformerLens layout, with a fused fast path.

Parameters follow TransformerLens: `W_Q, W_K, W_V: [n_heads, d_model, d_head]`,
`W_O: [n_heads, d_head, d_model]`, `b_Q, b_K, b_V: [n_heads, d_head]`, `b_O: [d_model]`.

Hooks, all time-major:
    hook_q, hook_k, hook_v, hook_z: [batch, pos, head, d_head]
    hook_attn_scores, hook_pattern: [batch, head, query_pos, key_pos]
    hook_result (opt-in, `use_attn_result`): [batch, pos, head, d_model]

Materialising the `[head, query, key]` pattern is the expensive part of attention over
1500 audio frames, so the pattern is only built when someone listens to `hook_attn_scores`
or `hook_pattern`. Otherwise the fused `scaled_dot_product_attention` kernel runs, which
gives the same result to float rounding.
"""

from __future__ import annotations

import math

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components.attend import allowed_keys, attend, attention_output
from hooked_audio.hook_point import AudioHookPoint


class Attention(nn.Module):
    """Self- or cross-attention; returns the output `[batch, query_pos, d_model]`."""

    def __init__(self, d_model: int, n_heads: int, use_attn_result: bool = False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}.")
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.use_attn_result = use_attn_result
        shape_in, shape_out = (n_heads, d_model, self.d_head), (n_heads, self.d_head, d_model)
        self.W_Q = nn.Parameter(torch.empty(shape_in))
        self.W_K = nn.Parameter(torch.empty(shape_in))
        self.W_V = nn.Parameter(torch.empty(shape_in))
        self.W_O = nn.Parameter(torch.empty(shape_out))
        self.b_Q = nn.Parameter(torch.zeros(n_heads, self.d_head))
        # Whisper's key projection has no bias; b_K is kept (zero) for TransformerLens layout.
        self.b_K = nn.Parameter(torch.zeros(n_heads, self.d_head))
        self.b_V = nn.Parameter(torch.zeros(n_heads, self.d_head))
        self.b_O = nn.Parameter(torch.zeros(d_model))

        self.hook_q = AudioHookPoint()  # [batch, query_pos, head, d_head]
        self.hook_k = AudioHookPoint()  # [batch, key_pos, head, d_head]
        self.hook_v = AudioHookPoint()  # [batch, key_pos, head, d_head]
        self.hook_attn_scores = AudioHookPoint()  # [batch, head, query_pos, key_pos]
        self.hook_pattern = AudioHookPoint()  # [batch, head, query_pos, key_pos]
        self.hook_z = AudioHookPoint()  # [batch, query_pos, head, d_head]
        self.hook_result = AudioHookPoint()  # [batch, query_pos, head, d_model]

    def project(self, x: Tensor, W: Tensor, b: Tensor) -> Float[Tensor, "batch pos hd"]:
        """`x @ W + b` for one of W_Q / W_K / W_V, heads flattened:
        `[batch, pos, n_heads * d_head]`."""
        weight = einops.rearrange(W, "head d_model d_head -> (head d_head) d_model")
        return F.linear(x, weight.to(x.dtype), b.reshape(-1).to(x.dtype))

    def split_heads(self, x: Tensor) -> Float[Tensor, "batch pos head d_head"]:
        """`[batch, pos, n_heads * d_head]` -> `[batch, pos, head, d_head]` (a view)."""
        return x.view(*x.shape[:2], self.n_heads, self.d_head)

    def _needs_pattern(self) -> bool:
        return self.hook_attn_scores.has_listeners() or self.hook_pattern.has_listeners()

    def forward(
        self,
        x: Float[Tensor, "batch query_pos d_model"],
        source: Float[Tensor, "batch key_pos d_model"] | None = None,
        causal: bool = False,
        key_valid: Bool[Tensor, "batch key_pos"] | None = None,
    ) -> Float[Tensor, "batch query_pos d_model"]:
        """`source=None` is self-attention; a tensor is cross-attention onto it. `key_valid`
        masks padded keys (True = a real position), as audio-LM encoders do for short clips."""
        q = self.queries(x)
        kv_in = x if source is None else source
        k_flat = self.project(kv_in, self.W_K, self.b_K)
        v_flat = self.project(kv_in, self.W_V, self.b_V)
        return self.attend(q, k_flat, v_flat, causal, key_valid)[0]

    def queries(
        self, x: Float[Tensor, "batch query_pos d_model"]
    ) -> Float[Tensor, "batch query_pos head d_head"]:
        """The queries through `hook_q`."""
        return self.hook_q(self.split_heads(self.project(x, self.W_Q, self.b_Q)))

    def attend(
        self,
        q: Float[Tensor, "batch query_pos head d_head"],
        k_flat: Float[Tensor, "#batch key_pos hd"],
        v_flat: Float[Tensor, "#batch key_pos hd"],
        causal: bool = False,
        key_valid: Bool[Tensor, "#batch key_pos"] | None = None,
    ) -> tuple[Float[Tensor, "batch query_pos d_model"], Tensor | None]:
        """Attention of the queries `q` (from `queries`) onto projected keys and values (heads
        flattened, as `project` returns them), through the remaining hooks: `(output, scores)`,
        where `scores` are the pre-softmax scores `[batch, head, query_pos, key_pos]` (float32,
        detached) when the pattern was materialised and None on the fused path."""
        k = self.hook_k(self.split_heads(k_flat))
        v = self.hook_v(self.split_heads(v_flat))
        allowed = None
        if (causal and q.shape[1] > 1) or key_valid is not None:
            allowed = allowed_keys(q.shape[1], causal, key_valid, k.shape[1], q.device)
        z, scores = attend(
            q,
            k,
            v,
            allowed,
            1.0 / math.sqrt(self.d_head),
            self._needs_pattern(),
            self.hook_attn_scores,
            self.hook_pattern,
        )
        z = self.hook_z(z)
        return self._output(z), scores

    def _output(
        self, z: Float[Tensor, "batch pos head d_head"]
    ) -> Float[Tensor, "batch pos d_model"]:
        return attention_output(z, self.W_O, self.b_O, self.use_attn_result, self.hook_result)
