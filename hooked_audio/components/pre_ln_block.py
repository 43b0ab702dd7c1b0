"""`PreLNBlock`: the pre-LayerNorm residual block with a GELU MLP, as Whisper's encoder, the
Whisper-style towers of audio LMs and the large wav2vec2 / HuBERT checkpoints have it.

Hook names follow TransformerLens: `hook_resid_pre`, `ln1`, `attn`, `hook_attn_out`,
`hook_resid_mid`, `ln2`, `mlp`, `hook_mlp_out`, `hook_resid_post`. The residual stream is
never normalised in place; the model applies its final norm after the last block.
"""

from __future__ import annotations

from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components.attention import Attention
from hooked_audio.components.layer_norm import LayerNorm
from hooked_audio.components.mlp import GeluMLP
from hooked_audio.hook_point import AudioHookPoint


class PreLNBlock(nn.Module):
    """`x + attn(ln1(x))`, then `+ mlp(ln2(.))`. `d_mlp` defaults to `4 * d_model`;
    subclasses choose another attention with `attention_class`."""

    attention_class: type[Attention] = Attention

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        *,
        d_mlp: int | None = None,
        eps: float = 1e-5,
        use_attn_result: bool = False,
    ):
        super().__init__()
        self.ln1 = LayerNorm(d_model, eps=eps)
        self.attn = self.attention_class(d_model, n_heads, use_attn_result)
        self.ln2 = LayerNorm(d_model, eps=eps)
        self.mlp = GeluMLP(d_model, d_mlp or 4 * d_model)
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
        return self.mlp_stage(self.hook_resid_mid(resid_pre + attn_out))

    def mlp_stage(
        self, resid: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        """`resid + mlp(ln2(resid))`, the block's last stage."""
        mlp_out = self.hook_mlp_out(self.mlp(self.ln2(resid)))
        return self.hook_resid_post(resid + mlp_out)
