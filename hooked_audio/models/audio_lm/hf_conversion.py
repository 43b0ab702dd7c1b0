"""HF `transformers` Qwen2-Audio / Voxtral -> `HookedAudioLM` state dict.

Reads the HF modules (not key strings), so it follows the module tree both models share:
`model.audio_tower`, `model.multi_modal_projector`, `model.language_model`, `lm_head`.
"""

from __future__ import annotations

from typing import Any

import einops
import torch
from torch import Tensor, nn

from hooked_audio.models.audio_lm.architectures import ARCHITECTURES
from hooked_audio.models.audio_lm.config import HookedAudioLMConfig
from hooked_audio.weight_checks import check_finite_weights


def _heads_in(weight: Tensor, n_heads: int) -> Tensor:
    """`nn.Linear` weight `[(head d_head), d_model]` -> `[head, d_model, d_head]`."""
    return einops.rearrange(weight, "(h e) i -> h i e", h=n_heads)


def _heads_bias(linear: nn.Linear, n_heads: int, d_head: int) -> Tensor:
    if linear.bias is None:
        return torch.zeros(n_heads, d_head, dtype=linear.weight.dtype, device=linear.weight.device)
    return linear.bias.reshape(n_heads, d_head)


def _bias(linear: nn.Linear, size: int) -> Tensor:
    if linear.bias is None:
        return torch.zeros(size, dtype=linear.weight.dtype, device=linear.weight.device)
    return linear.bias


def _tower(tower: nn.Module, n_heads: int) -> dict[str, Tensor]:
    sd = {
        "conv1.weight": tower.conv1.weight,
        "conv1.bias": tower.conv1.bias,
        "conv2.weight": tower.conv2.weight,
        "conv2.bias": tower.conv2.bias,
        "W_pos": tower.embed_positions.weight,
        "ln_post.w": tower.layer_norm.weight,
        "ln_post.b": tower.layer_norm.bias,
    }
    for i, layer in enumerate(tower.layers):
        attn, p = layer.self_attn, f"blocks.{i}."
        d_model = attn.q_proj.weight.shape[1]
        d_head = d_model // n_heads
        sd.update(
            {
                p + "ln1.w": layer.self_attn_layer_norm.weight,
                p + "ln1.b": layer.self_attn_layer_norm.bias,
                p + "attn.W_Q": _heads_in(attn.q_proj.weight, n_heads),
                p + "attn.W_K": _heads_in(attn.k_proj.weight, n_heads),
                p + "attn.W_V": _heads_in(attn.v_proj.weight, n_heads),
                p + "attn.b_Q": _heads_bias(attn.q_proj, n_heads, d_head),
                p + "attn.b_K": _heads_bias(attn.k_proj, n_heads, d_head),
                p + "attn.b_V": _heads_bias(attn.v_proj, n_heads, d_head),
                p + "attn.W_O": einops.rearrange(
                    attn.out_proj.weight, "o (h e) -> h e o", h=n_heads
                ),
                p + "attn.b_O": _bias(attn.out_proj, d_model),
                p + "ln2.w": layer.final_layer_norm.weight,
                p + "ln2.b": layer.final_layer_norm.bias,
                p + "mlp.W_in": layer.fc1.weight.T,
                p + "mlp.b_in": layer.fc1.bias,
                p + "mlp.W_out": layer.fc2.weight.T,
                p + "mlp.b_out": layer.fc2.bias,
            }
        )
    return sd


def _projector(projector: nn.Module, cfg: HookedAudioLMConfig) -> dict[str, Tensor]:
    if cfg.projector == "linear":
        return {"W": projector.linear.weight.T, "b": _bias(projector.linear, cfg.d_model)}
    for linear in (projector.linear_1, projector.linear_2):
        if linear.bias is not None:
            raise ValueError("This Voxtral projector has biases; HookedAudioLM's has none.")
    return {"W_1": projector.linear_1.weight.T, "W_2": projector.linear_2.weight.T}


def _language_model(
    lm: nn.Module, lm_head: nn.Linear, cfg: HookedAudioLMConfig
) -> dict[str, Tensor]:
    h, kv, e = cfg.n_heads, cfg.n_key_value_heads, cfg.d_head
    sd = {
        "embed.W_E": lm.embed_tokens.weight,
        "ln_final.w": lm.norm.weight,
        "unembed.W_U": lm_head.weight.T,
        "unembed.b_U": _bias(lm_head, cfg.d_vocab),
    }
    for i, layer in enumerate(lm.layers):
        attn, mlp, p = layer.self_attn, layer.mlp, f"blocks.{i}."
        sd.update(
            {
                p + "ln1.w": layer.input_layernorm.weight,
                p + "ln2.w": layer.post_attention_layernorm.weight,
                p + "attn.W_Q": _heads_in(attn.q_proj.weight, h),
                p + "attn._W_K": _heads_in(attn.k_proj.weight, kv),
                p + "attn._W_V": _heads_in(attn.v_proj.weight, kv),
                p + "attn.b_Q": _heads_bias(attn.q_proj, h, e),
                p + "attn._b_K": _heads_bias(attn.k_proj, kv, e),
                p + "attn._b_V": _heads_bias(attn.v_proj, kv, e),
                p + "attn.W_O": einops.rearrange(attn.o_proj.weight, "o (h e) -> h e o", h=h),
                p + "attn.b_O": _bias(attn.o_proj, cfg.d_model),
                p + "mlp.W_gate": mlp.gate_proj.weight.T,
                p + "mlp.b_gate": _bias(mlp.gate_proj, cfg.d_mlp),
                p + "mlp.W_in": mlp.up_proj.weight.T,
                p + "mlp.b_in": _bias(mlp.up_proj, cfg.d_mlp),
                p + "mlp.W_out": mlp.down_proj.weight.T,
                p + "mlp.b_out": _bias(mlp.down_proj, cfg.d_model),
            }
        )
    return sd


def convert_hf_model(
    hf_model: nn.Module, cfg: HookedAudioLMConfig
) -> tuple[dict[str, Tensor], Tensor, float]:
    """`(state_dict, rope inv_freq, rope attention_scaling)` for a `HookedAudioLM` of `cfg`.
    Weights holding NaN or infinity are refused, by their HF names."""
    source = getattr(hf_model.config, "_name_or_path", "") or type(hf_model).__name__
    check_finite_weights(hf_model.named_parameters(), source)
    inner = hf_model.model
    sd: dict[str, Tensor] = {}
    for prefix, part in (
        ("audio_encoder.", _tower(inner.audio_tower, cfg.audio_n_heads)),
        ("projector.", _projector(inner.multi_modal_projector, cfg)),
        ("", _language_model(inner.language_model, hf_model.lm_head, cfg)),
    ):
        sd.update({prefix + k: v.detach() for k, v in part.items()})
    rotary = inner.language_model.rotary_emb
    return sd, rotary.inv_freq.detach().float().cpu(), float(rotary.attention_scaling)


def load_hf_model(name_or_dir: str, dtype: torch.dtype) -> Any:
    """A HF Qwen2-Audio / Voxtral model from a directory or the local HF cache."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError(
            "Loading an audio LM needs transformers: pip install 'hooked-audio[hf]'."
        ) from error
    config = transformers.AutoConfig.from_pretrained(name_or_dir)
    if config.model_type not in ARCHITECTURES:
        raise ValueError(
            f"{name_or_dir} holds a {config.model_type!r} model; HookedAudioLM loads "
            f"{', '.join(ARCHITECTURES)}."
        )
    cls = getattr(transformers, ARCHITECTURES[config.model_type].hf_model_class)
    return cls.from_pretrained(name_or_dir, dtype=dtype).eval()


def load_hf_processor(name_or_dir: str) -> Any:
    """The checkpoint's processor, or None when it ships none (weights-only directories)."""
    import transformers

    try:
        return transformers.AutoProcessor.from_pretrained(name_or_dir)
    except (OSError, ValueError, TypeError):
        return None
