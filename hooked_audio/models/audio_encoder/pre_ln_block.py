"""The pre-LayerNorm block of the large wav2vec2 / HuBERT checkpoints
(`do_stable_layer_norm=True`)."""

from __future__ import annotations

from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components import Attention, GeluMLP, LayerNorm
from hooked_audio.hook_point import AudioHookPoint


class PreLNBlock(nn.Module):
    """`x + attn(ln1(x))`, then `+ mlp(ln2(.))`: the residual stream is never normalised in
    place, and the model applies `ln_final` after the last block."""

    def __init__(
        self, d_model: int, n_heads: int, d_mlp: int, eps: float, use_attn_result: bool = False
    ):
        super().__init__()
        self.ln1 = LayerNorm(d_model, eps=eps)
        self.attn = Attention(d_model, n_heads, use_attn_result)
        self.ln2 = LayerNorm(d_model, eps=eps)
        self.mlp = GeluMLP(d_model, d_mlp)
        self.hook_resid_pre = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_attn_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_mid = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_mlp_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_post = AudioHookPoint()  # [batch, pos, d_model]

    def attention_input(
        self, resid_pre: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        """What the attention reads: `ln1` of the residual stream."""
        return self.ln1(resid_pre)

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        key_valid: Bool[Tensor, "batch pos"] | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """`key_valid` masks padded positions as keys (True = real); None: every position."""
        resid_pre = self.hook_resid_pre(x)
        attn_out = self.hook_attn_out(self.attn(self.ln1(resid_pre), key_valid=key_valid))
        resid_mid = self.hook_resid_mid(resid_pre + attn_out)
        mlp_out = self.hook_mlp_out(self.mlp(self.ln2(resid_mid)))
        return self.hook_resid_post(resid_mid + mlp_out)
