"""openai-whisper state dict -> `HookedWhisper` state dict (TransformerLens layout).

Every loader (openai `.pt`, HF transformers, CTranslate2) first produces openai-whisper's
own names, so this is the one place where the layout changes.
"""

from __future__ import annotations

import re

import einops
import torch
from torch import Tensor
from whisper.model import ModelDimensions

_LN = {"attn_ln": "ln1", "cross_attn_ln": "ln_cross", "mlp_ln": "ln2"}


def _attention(prefix: str, sd: dict[str, Tensor], n_heads: int) -> dict[str, Tensor]:
    def split_in(w: Tensor) -> Tensor:  # nn.Linear [h*e, d] -> [h, d, e]
        return einops.rearrange(w, "(head d_head) d_model -> head d_model d_head", head=n_heads)

    def split_bias(b: Tensor) -> Tensor:
        return einops.rearrange(b, "(head d_head) -> head d_head", head=n_heads)

    out = {
        "W_Q": split_in(sd[f"{prefix}.query.weight"]),
        "b_Q": split_bias(sd[f"{prefix}.query.bias"]),
        "W_K": split_in(sd[f"{prefix}.key.weight"]),
        "W_V": split_in(sd[f"{prefix}.value.weight"]),
        "b_V": split_bias(sd[f"{prefix}.value.bias"]),
        "W_O": einops.rearrange(
            sd[f"{prefix}.out.weight"], "d_model (head d_head) -> head d_head d_model", head=n_heads
        ),
        "b_O": sd[f"{prefix}.out.bias"],
    }
    key_bias = sd.get(f"{prefix}.key.bias")
    out["b_K"] = split_bias(key_bias) if key_bias is not None else torch.zeros_like(out["b_Q"])
    return out


def _block(prefix: str, sd: dict[str, Tensor], n_heads: int, cross: bool) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for attn in ("attn", "cross_attn") if cross else ("attn",):
        for name, value in _attention(f"{prefix}.{attn}", sd, n_heads).items():
            out[f"{attn}.{name}"] = value
    for theirs, ours in _LN.items():
        if theirs == "cross_attn_ln" and not cross:
            continue
        out[f"{ours}.w"] = sd[f"{prefix}.{theirs}.weight"]
        out[f"{ours}.b"] = sd[f"{prefix}.{theirs}.bias"]
    out["mlp.W_in"] = sd[f"{prefix}.mlp.0.weight"].T
    out["mlp.b_in"] = sd[f"{prefix}.mlp.0.bias"]
    out["mlp.W_out"] = sd[f"{prefix}.mlp.2.weight"].T
    out["mlp.b_out"] = sd[f"{prefix}.mlp.2.bias"]
    return out


def convert_openai_state_dict(sd: dict[str, Tensor], dims: ModelDimensions) -> dict[str, Tensor]:
    """Rename and reshape an openai-whisper state dict into `HookedWhisper` parameters."""
    missing = [k for k in ("encoder.conv1.weight", "decoder.token_embedding.weight") if k not in sd]
    if missing:
        raise KeyError(f"Not an openai-whisper state dict: missing {missing}.")
    out = {
        "encoder.conv1.weight": sd["encoder.conv1.weight"],
        "encoder.conv1.bias": sd["encoder.conv1.bias"],
        "encoder.conv2.weight": sd["encoder.conv2.weight"],
        "encoder.conv2.bias": sd["encoder.conv2.bias"],
        "encoder.W_pos": sd["encoder.positional_embedding"],
        "encoder.ln_post.w": sd["encoder.ln_post.weight"],
        "encoder.ln_post.b": sd["encoder.ln_post.bias"],
        "decoder.W_E": sd["decoder.token_embedding.weight"],
        "decoder.W_pos": sd["decoder.positional_embedding"],
        "decoder.ln_final.w": sd["decoder.ln.weight"],
        "decoder.ln_final.b": sd["decoder.ln.bias"],
    }
    for stack, n_layers, n_heads in (
        ("encoder", dims.n_audio_layer, dims.n_audio_head),
        ("decoder", dims.n_text_layer, dims.n_text_head),
    ):
        for layer in range(n_layers):
            prefix = f"{stack}.blocks.{layer}"
            block = _block(prefix, sd, n_heads, cross=stack == "decoder")
            out.update({f"{prefix}.{name}": value for name, value in block.items()})
    unused = [k for k in sd if not re.search(r"\.(alignment_heads|mask)$", k) and not _is_used(k)]
    if unused:
        raise KeyError(
            f"openai-whisper state dict has entries this converter does not know: {unused[:5]}"
        )
    return {name: tensor.contiguous() for name, tensor in out.items()}


def _is_used(key: str) -> bool:
    return bool(
        re.match(
            r"(encoder\.(conv[12]\.|positional_embedding|ln_post\.|blocks\.\d+\.)"
            r"|decoder\.(token_embedding\.|positional_embedding|ln\.|blocks\.\d+\.))",
            key,
        )
    )
