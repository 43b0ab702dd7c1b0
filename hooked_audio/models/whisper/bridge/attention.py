"""Whisper attention on TransformerBridge with live score and pattern hooks.

TransformerLens 4.3's `AttentionBridge` lets the wrapped HF module compute attention and then
fires `hook_pattern` (and `hook_attn_scores`, with the same post-softmax tensor) after the
fact: reading them works, editing them changes nothing. `WhisperAttentionBridge` instead hands
itself to a HF attention function (`hooked_eager_attention`, registered with transformers'
`AttentionInterface`) that computes Whisper's eager attention with `hook_attn_scores`
(pre-softmax, scaled, masked) and `hook_pattern` inside the computation, so patching a score or
a pattern changes the output, as it does in HookedWhisper. Everything else (projections, KV
cache, cross-attention reuse of the encoder's keys) stays HF's own code.
"""

from __future__ import annotations

from typing import Any

import torch
from transformer_lens.model_bridge.generalized_components import AttentionBridge

#: the name Whisper's HF config is given as `_attn_implementation` on the Bridge
ATTENTION_IMPLEMENTATION = "hooked_audio_whisper_eager"
#: the keyword that carries the bridge component through HF's attention call
_BRIDGE_KWARG = "hooked_audio_attention_bridge"


def hooked_eager_attention(
    module: torch.nn.Module,
    query: torch.Tensor,  # [batch, head, query_pos, d_head], already scaled by HF Whisper
    key: torch.Tensor,  # [batch, head, key_pos, d_head]
    value: torch.Tensor,  # [batch, head, key_pos, d_head]
    attention_mask: torch.Tensor | None,  # additive, [batch, 1, query_pos, key_pos]
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """HF Whisper's eager attention (same operations, same order), with the bridge's score and
    pattern hooks in the computation. Without a bridge (a HF model not wrapped by one) it is
    exactly HF's eager attention."""
    bridge = kwargs.get(_BRIDGE_KWARG)
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    if bridge is not None:
        scores = bridge.hook_attn_scores(scores)  # [batch, head, query_pos, key_pos]
    pattern = torch.nn.functional.softmax(scores, dim=-1)
    if bridge is not None:
        pattern = bridge.hook_pattern(pattern)  # [batch, head, query_pos, key_pos]
    pattern = torch.nn.functional.dropout(pattern, p=dropout, training=module.training)
    output = torch.matmul(pattern, value).transpose(1, 2).contiguous()
    return output, pattern


class WhisperAttentionBridge(AttentionBridge):
    """A Whisper self- or cross-attention module on the Bridge: `hook_in`, the q/k/v/o
    projections' hooks (`hook_q`, `hook_k`, `hook_v`, `hook_z` per head), live
    `hook_attn_scores` and `hook_pattern`, `hook_out`."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.original_component is None:
            raise RuntimeError(f"Original component not set for {self.name}.")
        if "hidden_states" in kwargs:
            kwargs["hidden_states"] = self.hook_in(kwargs["hidden_states"])
        elif args:
            args = (self.hook_in(args[0]),) + args[1:]
        implementation = getattr(self.original_component.config, "_attn_implementation", None)
        if implementation != ATTENTION_IMPLEMENTATION:
            raise RuntimeError(
                f"{self.name} runs with attention implementation {implementation!r}; the Whisper "
                f"adapter needs {ATTENTION_IMPLEMENTATION!r} for its score and pattern hooks "
                "(set in prepare_model: was the HF model's attention changed after booting?)."
            )
        kwargs[_BRIDGE_KWARG] = self
        output = self.original_component(*args, **kwargs)
        return (self.hook_out(output[0]),) + tuple(output[1:])
