"""The language model's pre-RMSNorm residual block (Qwen2, Llama), TransformerLens names."""

from __future__ import annotations

from jaxtyping import Bool, Float
from torch import Tensor, nn
from transformer_lens.config import TransformerLensConfig

from hooked_audio.components import GatedMLP, GroupedQueryAttention, LayerKVCache, RMSNorm
from hooked_audio.hook_point import AudioHookPoint


class LMBlock(nn.Module):
    """`x + attn(ln1(x))`, then `+ mlp(ln2(.))`."""

    def __init__(self, cfg: TransformerLensConfig):
        super().__init__()
        self.ln1 = RMSNorm(cfg.d_model, cfg.eps)
        self.attn = GroupedQueryAttention(
            cfg.d_model, cfg.n_heads, cfg.n_key_value_heads, cfg.d_head, cfg.use_attn_result
        )
        self.ln2 = RMSNorm(cfg.d_model, cfg.eps)
        self.mlp = GatedMLP(cfg.d_model, cfg.d_mlp, cfg.act_fn)
        self.hook_resid_pre = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_attn_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_mid = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_mlp_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_post = AudioHookPoint()  # [batch, pos, d_model]

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        cos: Tensor,
        sin: Tensor,
        allowed: Bool[Tensor, "batch 1 query key"] | None,
        kv_cache: LayerKVCache | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        resid_pre = self.hook_resid_pre(x)
        attn_out = self.hook_attn_out(self.attn(self.ln1(resid_pre), cos, sin, allowed, kv_cache))
        resid_mid = self.hook_resid_mid(resid_pre + attn_out)
        mlp_out = self.hook_mlp_out(self.mlp(self.ln2(resid_mid)))
        return self.hook_resid_post(resid_mid + mlp_out)
