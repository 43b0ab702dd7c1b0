"""Which TransformerBridge hook holds what a HookedWhisper hook holds.

`bridge_hook_name("encoder.blocks.2.hook_resid_post")` -> `"encoder_blocks.2.hook_resid_post"`.
Every HookedWhisper hook has a counterpart but `attn.hook_result` (per-head outputs):
TransformerBridge 4.3 turns those on with `set_use_attn_result`, which looks for attention only
in a `blocks` stack, and an encoder-decoder bridge has none. HookedWhisper's (and
TransformerLens's) `ln.hook_normalized` is the norm's output after its weight and bias: the
Bridge's `ln.hook_out` (its `hook_normalized` is taken before the affine). Two hold the same
activation in another layout (`BRIDGE_LAYOUTS`): the convolutions' outputs, which the Bridge
sees before Whisper's inline GELU and channels-first, and the encoder positions, which HF adds
without a batch axis. Masked attention scores are -inf in HookedWhisper and the most negative
float in HF's additive mask.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

_STACK = {"encoder": "encoder_blocks", "decoder": "decoder_blocks"}
_TOP = {
    "encoder.hook_conv1": "conv1.hook_out",
    "encoder.hook_conv2": "conv2.hook_out",
    "encoder.hook_pos_embed": "pos_embed.hook_out",
    "encoder.ln_post.hook_normalized": "encoder_ln_final.hook_out",
    "encoder.ln_post.hook_scale": "encoder_ln_final.hook_scale",
    "decoder.hook_embed": "decoder_embed.hook_out",
    "decoder.hook_pos_embed": "decoder_pos_embed.hook_out",
    "decoder.ln_final.hook_normalized": "decoder_ln_final.hook_out",
    "decoder.ln_final.hook_scale": "decoder_ln_final.hook_scale",
}
# Within a block: HookedWhisper's names -> the Bridge's, per stack (the decoder's self-attention
# is `self_attn`, its cross-attention `cross_attn`; its MLP norm is `ln3`).
_ENCODER_BLOCK = {
    "hook_resid_pre": "hook_resid_pre",
    "hook_attn_out": "hook_attn_out",
    "hook_resid_mid": "hook_resid_mid",
    "hook_mlp_out": "hook_mlp_out",
    "hook_resid_post": "hook_resid_post",
    "ln1.hook_normalized": "ln1.hook_out",
    "ln1.hook_scale": "ln1.hook_scale",
    "ln2.hook_normalized": "ln2.hook_out",
    "ln2.hook_scale": "ln2.hook_scale",
    "mlp.hook_pre": "mlp.hook_pre",
    "mlp.hook_post": "mlp.hook_post",
    **{f"attn.{h}": f"attn.{h}" for h in ("hook_q", "hook_k", "hook_v", "hook_z")},
    "attn.hook_attn_scores": "attn.hook_attn_scores",
    "attn.hook_pattern": "attn.hook_pattern",
}
_DECODER_BLOCK = {
    "hook_resid_pre": "hook_resid_pre",
    "hook_attn_out": "self_attn.hook_out",
    "hook_resid_mid": "hook_resid_mid",
    "hook_cross_attn_out": "cross_attn.hook_out",
    "hook_resid_mid_cross": "ln3.hook_in",
    "hook_mlp_out": "hook_mlp_out",
    "hook_resid_post": "hook_resid_post",
    "ln1.hook_normalized": "ln1.hook_out",
    "ln1.hook_scale": "ln1.hook_scale",
    "ln_cross.hook_normalized": "ln2.hook_out",
    "ln_cross.hook_scale": "ln2.hook_scale",
    "ln2.hook_normalized": "ln3.hook_out",
    "ln2.hook_scale": "ln3.hook_scale",
    "mlp.hook_pre": "mlp.hook_pre",
    "mlp.hook_post": "mlp.hook_post",
    **{
        f"{mine}.{h}": f"{theirs}.{h}"
        for mine, theirs in (("attn", "self_attn"), ("cross_attn", "cross_attn"))
        for h in ("hook_q", "hook_k", "hook_v", "hook_z", "hook_attn_scores", "hook_pattern")
    },
}
_IN_BLOCK = {"encoder": _ENCODER_BLOCK, "decoder": _DECODER_BLOCK}
_BLOCK_HOOK = re.compile(r"(encoder|decoder)\.blocks\.(\d+)\.(.+)")


def bridge_hook_name(hooked_whisper_name: str) -> str:
    """The TransformerBridge hook that holds HookedWhisper's `hooked_whisper_name`; a
    `KeyError` naming it when the Bridge has none."""
    if hooked_whisper_name in _TOP:
        return _TOP[hooked_whisper_name]
    match = _BLOCK_HOOK.fullmatch(hooked_whisper_name)
    if match:
        stack, layer, rest = match.groups()
        if rest in _IN_BLOCK[stack]:
            return f"{_STACK[stack]}.{layer}.{_IN_BLOCK[stack][rest]}"
    if hooked_whisper_name.endswith("hook_result"):
        raise KeyError(
            f"{hooked_whisper_name}: TransformerBridge 4.3 cannot turn per-head results on for "
            "an encoder-decoder model (set_use_attn_result needs a `blocks` stack); use "
            "HookedWhisper, or hook_z and the output weights (W_O)."
        )
    raise KeyError(f"TransformerBridge's Whisper adapter has no hook for {hooked_whisper_name}.")


def _conv_output(bridge_value: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(bridge_value).transpose(1, 2)


#: HookedWhisper's value from the Bridge's, for the hooks that hold it in another layout
BRIDGE_LAYOUTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "encoder.hook_conv1": _conv_output,  # [batch, d_model, 2 * n_audio_ctx] before GELU
    "encoder.hook_conv2": _conv_output,  # [batch, d_model, n_audio_ctx] before GELU
    "encoder.hook_pos_embed": lambda value: value.unsqueeze(0),  # [n_audio_ctx, d_model]
}


def as_hooked_whisper(hooked_whisper_name: str, bridge_value: torch.Tensor) -> torch.Tensor:
    """The Bridge's activation for `hooked_whisper_name` in HookedWhisper's layout."""
    convert = BRIDGE_LAYOUTS.get(hooked_whisper_name)
    return bridge_value if convert is None else convert(bridge_value)


def relative_differences(hooked_cache, bridge_cache) -> dict[str, float]:
    """{HookedWhisper hook: max |difference| / max |activation|} for every hook in
    `hooked_cache` (a HookedWhisper cache) against its counterpart in `bridge_cache` (a Whisper
    TransformerBridge cache of the same input). Masked attention scores (-inf in HookedWhisper)
    are compared where HookedWhisper's are finite; a non-finite Bridge value there counts as an
    infinite difference. A `KeyError` names a hook the Bridge lacks, a `ValueError` one whose
    shapes disagree."""
    differences = {}
    for name, expected in hooked_cache.items():
        got = as_hooked_whisper(name, bridge_cache[bridge_hook_name(name)])
        if name.endswith("hook_pos_embed"):
            got = got.expand_as(expected)  # the same positions for every clip of the batch
        if got.shape != expected.shape:
            raise ValueError(
                f"{name}: the Bridge's {tuple(got.shape)} and HookedWhisper's "
                f"{tuple(expected.shape)} differ; are the caches of the same input?"
            )
        finite = torch.isfinite(expected)
        if not torch.isfinite(got[finite]).all():
            differences[name] = float("inf")
            continue
        scale = expected[finite].abs().max().clamp_min(1e-6)
        differences[name] = ((got[finite] - expected[finite]).abs().max() / scale).item()
    return differences
