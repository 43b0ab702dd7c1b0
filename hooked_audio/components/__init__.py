"""Components shared by the hooked audio models, in TransformerLens's parameter layout."""

from hooked_audio.components.attention import Attention
from hooked_audio.components.kv_cache_tap import KVCacheTap
from hooked_audio.components.layer_norm import LayerNorm
from hooked_audio.components.mlp import GeluMLP

__all__ = ["Attention", "KVCacheTap", "LayerNorm", "GeluMLP"]
