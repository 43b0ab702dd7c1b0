"""Components shared by the hooked audio models, in TransformerLens's parameter layout."""

from hooked_audio.components.attention import Attention
from hooked_audio.components.gated_mlp import GatedMLP
from hooked_audio.components.grouped_query_attention import GroupedQueryAttention, LayerKVCache
from hooked_audio.components.layer_norm import LayerNorm
from hooked_audio.components.mlp import GeluMLP
from hooked_audio.components.pre_ln_block import PreLNBlock
from hooked_audio.components.rms_norm import RMSNorm
from hooked_audio.components.rotary import RotaryEmbedding

__all__ = [
    "Attention",
    "GatedMLP",
    "GeluMLP",
    "GroupedQueryAttention",
    "LayerKVCache",
    "LayerNorm",
    "PreLNBlock",
    "RMSNorm",
    "RotaryEmbedding",
]
