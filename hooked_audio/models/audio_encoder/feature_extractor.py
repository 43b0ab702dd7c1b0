"""The conv feature extractor: raw 16 kHz waveform -> one feature vector per 20 ms."""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.components import LayerNorm
from hooked_audio.models.audio_encoder.channel_norm import ChannelTimeNorm
from hooked_audio.models.audio_encoder.config import HookedAudioEncoderConfig
from hooked_audio.models.audio_encoder.conv_layer import ConvLayer

# The conv stack's own norms use PyTorch's default eps, not the config's `layer_norm_eps`.
CONV_NORM_EPS = 1e-5


class ConvFeatureExtractor(nn.Module):
    """Seven strided convs (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2 in every released
    checkpoint): 320 samples between positions, 400 samples heard by each.

    Hooks: `conv_layers.{i}.hook_out [batch, conv_frame_i, conv_dim_i]` (time-major, each
    layer at its own frame rate; the last one is at the model's 20 ms positions), and the
    norms' `hook_scale` / `hook_normalized`.
    """

    def __init__(self, cfg: HookedAudioEncoderConfig):
        super().__init__()
        layers = []
        in_channels = 1
        for i, (dim, kernel, stride) in enumerate(
            zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride)
        ):
            if cfg.feat_extract_norm == "layer":
                norm = LayerNorm(dim, eps=CONV_NORM_EPS)
            else:
                norm = ChannelTimeNorm(dim, eps=CONV_NORM_EPS) if i == 0 else None
            layers.append(ConvLayer(in_channels, dim, kernel, stride, cfg.conv_bias, norm))
            in_channels = dim
        self.conv_layers = nn.ModuleList(layers)

    def forward(
        self, waveform: Float[Tensor, "batch samples"]
    ) -> Float[Tensor, "batch pos conv_dim"]:
        x = waveform[:, :, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x
