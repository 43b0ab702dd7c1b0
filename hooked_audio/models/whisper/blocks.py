"""Whisper's pre-LayerNorm residual blocks, one class per stack.

Hook names follow TransformerLens (`hook_resid_pre`, `ln1`, `attn`, `hook_attn_out`, ...);
the decoder block adds a cross-attention stage between self-attention and the MLP:
`ln_cross`, `cross_attn`, `hook_cross_attn_out`, `hook_resid_mid_cross`. The encoder block
uses the shared `Attention`; the decoder's attention is `WhisperAttention`, which speaks
openai-whisper's KV-cache and word-timing protocol.
"""

from __future__ import annotations

from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components import Attention, GeluMLP, LayerNorm
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.models.whisper.attention import WhisperAttention


class WhisperEncoderBlock(nn.Module):
    """`x + attn(ln1(x))`, then `+ mlp(ln2(.))`. Also the block of the Whisper-style audio
    towers of audio LMs (Qwen2-Audio, Voxtral), whose MLP width may differ from 4 * d_model."""

    attention_class: type[Attention] = Attention

    def __init__(
        self, d_model: int, n_heads: int, use_attn_result: bool = False, d_mlp: int | None = None
    ):
        super().__init__()
        self.ln1 = LayerNorm(d_model)
        self.attn = self.attention_class(d_model, n_heads, use_attn_result)
        self.ln2 = LayerNorm(d_model)
        self.mlp = GeluMLP(d_model, d_mlp or 4 * d_model)
        self.hook_resid_pre = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_attn_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_mid = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_mlp_out = AudioHookPoint()  # [batch, pos, d_model]
        self.hook_resid_post = AudioHookPoint()  # [batch, pos, d_model]

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        key_valid: Bool[Tensor, "batch pos"] | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """`key_valid` masks padded frames as keys (audio LMs' short clips); None: all frames."""
        resid_pre = self.hook_resid_pre(x)
        attn_out = self.hook_attn_out(self.attn(self.ln1(resid_pre), key_valid=key_valid))
        return self._mlp_stage(self.hook_resid_mid(resid_pre + attn_out))

    def _mlp_stage(
        self, resid: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        mlp_out = self.hook_mlp_out(self.mlp(self.ln2(resid)))
        return self.hook_resid_post(resid + mlp_out)


class WhisperDecoderBlock(WhisperEncoderBlock):
    """Causal self-attention, cross-attention onto the audio, MLP."""

    attention_class = WhisperAttention

    def __init__(self, d_model: int, n_heads: int, use_attn_result: bool = False):
        super().__init__(d_model, n_heads, use_attn_result)
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
        return self._mlp_stage(resid_mid_cross)
