"""Whisper's pre-LayerNorm residual blocks, one class per stack.

Hook names follow TransformerLens (`hook_resid_pre`, `ln1`, `attn`, `hook_attn_out`, ...);
the decoder block adds a cross-attention stage between self-attention and the MLP:
`ln_cross`, `cross_attn`, `hook_cross_attn_out`, `hook_resid_mid_cross`. The encoder block
uses the shared `Attention`; the decoder's attention is `WhisperAttention`, which speaks
openai-whisper's KV-cache and word-timing protocol.
"""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor

from hooked_audio.components import LayerNorm
from hooked_audio.components.pre_ln_block import PreLNBlock
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.models.whisper.attention import WhisperAttention


class WhisperEncoderBlock(PreLNBlock):
    """`x + attn(ln1(x))`, then `+ mlp(ln2(.))`, with the shared `Attention`. Also the block of
    the Whisper-style towers of audio LMs (Qwen2-Audio, Voxtral), whose MLP width may differ
    from 4 * d_model (`d_mlp=`)."""


class WhisperDecoderBlock(PreLNBlock):
    """Causal self-attention, cross-attention onto the audio, MLP."""

    attention_class = WhisperAttention

    def __init__(self, d_model: int, n_heads: int, use_attn_result: bool = False):
        super().__init__(d_model, n_heads, use_attn_result=use_attn_result)
        self.ln_cross = LayerNorm(d_model)
        self.cross_attn = WhisperAttention(d_model, n_heads, use_attn_result)
        self.hook_cross_attn_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_mid_cross = AudioHookPoint()  # [batch, pos, d_model]

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        audio: Float[Tensor, "batch audio_pos d_model"],
        kv_cache: dict | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        resid_pre = self.hook_resid_pre(x)
        attn_out = self.attn(self.ln1(resid_pre), causal=True, kv_cache=kv_cache)[0]
        resid_mid = self.hook_resid_mid(resid_pre + self.hook_attn_out(attn_out))
        cross_out = self.cross_attn(self.ln_cross(resid_mid), audio, kv_cache=kv_cache)[0]
        resid_mid_cross = self.hook_resid_mid_cross(resid_mid + self.hook_cross_attn_out(cross_out))
        return self.mlp_stage(resid_mid_cross)
