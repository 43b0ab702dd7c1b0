"""The post-LayerNorm block of the base wav2vec2 / HuBERT checkpoints
(`do_stable_layer_norm=False`), named as TransformerLens names BERT's block."""

from __future__ import annotations

from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components import Attention, GeluMLP, LayerNorm
from hooked_audio.hook_point import AudioHookPoint


class PostLNBlock(nn.Module):
    """`mid = ln1(x + attn(x))`, then `ln2(mid + mlp(mid))`.

    The attention reads the residual stream as it arrives (already normalised by the previous
    block's `ln2`, or by the model's `ln_embed` for block 0). `hook_resid_mid` and
    `hook_resid_post` hold the sums before `ln1` / `ln2`; the block's output, the next block's
    `hook_resid_pre`, is `hook_normalized_resid_post`.
    """

    def __init__(
        self, d_model: int, n_heads: int, *, d_mlp: int, eps: float, use_attn_result: bool = False
    ):
        super().__init__()
        self.attn = Attention(d_model, n_heads, use_attn_result)
        self.ln1 = LayerNorm(d_model, eps=eps)
        self.mlp = GeluMLP(d_model, d_mlp)
        self.ln2 = LayerNorm(d_model, eps=eps)
        self.hook_resid_pre = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_attn_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_mid = AudioHookPoint()  # [batch, pos, d_model], before ln1
        self.hook_mlp_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_post = AudioHookPoint()  # [batch, pos, d_model], before ln2
        self.hook_normalized_resid_post = AudioHookPoint()  # [batch, pos, d_model], ln2 output

    def attention_input(
        self, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        """What the attention reads: the residual stream itself (no LayerNorm before it)."""
        return resid_pre

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        key_valid: Bool[Tensor, "batch pos"] | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """`key_valid` masks padded positions as keys (True = real); None: every position."""
        resid_pre = self.hook_resid_pre(x)
        attn_out = self.hook_attn_out(self.attn(resid_pre, key_valid=key_valid))
        normalized_mid = self.ln1(self.hook_resid_mid(resid_pre + attn_out))
        mlp_out = self.hook_mlp_out(self.mlp(normalized_mid))
        resid_post = self.hook_resid_post(normalized_mid + mlp_out)
        return self.hook_normalized_resid_post(self.ln2(resid_post))
