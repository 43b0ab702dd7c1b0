"""HF wav2vec2 / HuBERT parameters -> `HookedAudioEncoder` parameters (TransformerLens layout).

Attention: `q_proj.weight [n_heads * d_head, d_model]` -> `W_Q [n_heads, d_model, d_head]`,
`out_proj.weight [d_model, n_heads * d_head]` -> `W_O [n_heads, d_head, d_model]`; MLP and
projections are transposed to `[d_in, d_out]`. Post-LN and pre-LN layers name their norms
alike: `layer_norm` -> `ln1`, `final_layer_norm` -> `ln2`. The positional conv's kernel is
read through its weight-norm parametrisation once (`conv.weight` is `g * v / ||v||`).
"""

from __future__ import annotations

from typing import Any

import einops
import torch
from torch import Tensor, nn

from hooked_audio.models.audio_encoder.config import HookedAudioEncoderConfig


def _attention(prefix: str, attn: Any, n_heads: int) -> dict[str, Tensor]:
    out = {}
    for name, proj in (("Q", attn.q_proj), ("K", attn.k_proj), ("V", attn.v_proj)):
        out[f"{prefix}W_{name}"] = einops.rearrange(proj.weight, "(h e) d -> h d e", h=n_heads)
        out[f"{prefix}b_{name}"] = einops.rearrange(proj.bias, "(h e) -> h e", h=n_heads)
    out[f"{prefix}W_O"] = einops.rearrange(attn.out_proj.weight, "d (h e) -> h e d", h=n_heads)
    out[f"{prefix}b_O"] = attn.out_proj.bias
    return out


def _norm(prefix: str, norm: nn.Module) -> dict[str, Tensor]:
    return {f"{prefix}w": norm.weight, f"{prefix}b": norm.bias}


def positional_conv_weight(conv: nn.Conv1d) -> Tensor:
    """The effective kernel of a (possibly weight-normalised) conv, computed once."""
    with torch.no_grad():
        return conv.weight.detach().clone()


def convert_hf_weights(
    base: Any, lm_head: nn.Linear | None, cfg: HookedAudioEncoderConfig
) -> dict[str, Tensor]:
    """A `Wav2Vec2Model` / `HubertModel` (and a CTC `lm_head`) -> our state dict, float32."""
    sd: dict[str, Tensor] = {}
    for i, layer in enumerate(base.feature_extractor.conv_layers):
        sd[f"feature_extractor.conv_layers.{i}.conv.weight"] = layer.conv.weight
        if layer.conv.bias is not None:
            sd[f"feature_extractor.conv_layers.{i}.conv.bias"] = layer.conv.bias
        if hasattr(layer, "layer_norm"):
            sd.update(_norm(f"feature_extractor.conv_layers.{i}.norm.", layer.layer_norm))
    projection = base.feature_projection
    if cfg.feat_proj_layer_norm:
        sd.update(_norm("feature_projection.ln.", projection.layer_norm))
    sd["feature_projection.W_proj"] = projection.projection.weight.T
    sd["feature_projection.b_proj"] = projection.projection.bias

    encoder = base.encoder
    sd["pos_conv.weight"] = positional_conv_weight(encoder.pos_conv_embed.conv)
    sd["pos_conv.bias"] = encoder.pos_conv_embed.conv.bias
    sd.update(_norm("ln_final." if cfg.do_stable_layer_norm else "ln_embed.", encoder.layer_norm))
    for l, layer in enumerate(encoder.layers):
        prefix = f"blocks.{l}."
        sd.update(_attention(prefix + "attn.", layer.attention, cfg.n_heads))
        sd.update(_norm(prefix + "ln1.", layer.layer_norm))
        sd.update(_norm(prefix + "ln2.", layer.final_layer_norm))
        ff = layer.feed_forward
        sd[prefix + "mlp.W_in"] = ff.intermediate_dense.weight.T
        sd[prefix + "mlp.b_in"] = ff.intermediate_dense.bias
        sd[prefix + "mlp.W_out"] = ff.output_dense.weight.T
        sd[prefix + "mlp.b_out"] = ff.output_dense.bias
    if lm_head is not None:
        sd["unembed.W_U"] = lm_head.weight.T
        sd["unembed.b_U"] = lm_head.bias
    return {name: tensor.detach().float().contiguous() for name, tensor in sd.items()}
