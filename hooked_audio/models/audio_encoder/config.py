"""Configuration of a `HookedAudioEncoder` (wav2vec2 / HuBERT): the family's own dimensions,
and the TransformerLens config of its transformer stack (what `ActivationCache` and
`transformer_lens.patching` read)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformer_lens.config import TransformerLensConfig

from hooked_audio.constants import SAMPLE_RATE

ARCHITECTURES = ("wav2vec2", "hubert")
FEAT_EXTRACT_NORMS = ("group", "layer")


@dataclass
class HookedAudioEncoderConfig:
    """What a wav2vec2 / HuBERT encoder needs, with the defaults of wav2vec2-base.

    `feat_extract_norm`: "group" (a per-channel norm over time after the first conv layer,
    the base models) or "layer" (a LayerNorm over channels after every conv layer, the large
    "lv60" models). `do_stable_layer_norm`: False for post-LN blocks (base models: LayerNorm
    after each residual addition), True for pre-LN blocks and a final LayerNorm (large models).
    `feat_proj_layer_norm`: whether the feature projection normalises the conv features first
    (always on wav2vec2; a config option on HuBERT). `vocab_size`: size of the CTC head's
    character vocabulary, None for an encoder without a head.

    `n_ctx` is nominal: the positional convolution is relative, so any number of positions
    runs; TransformerLens only reads it as a size.
    """

    architecture: str = "wav2vec2"
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_mlp: int = 3072
    eps: float = 1e-5
    conv_dim: tuple[int, ...] = (512, 512, 512, 512, 512, 512, 512)
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    conv_bias: bool = False
    feat_extract_norm: str = "group"
    feat_proj_layer_norm: bool = True
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    do_stable_layer_norm: bool = False
    vocab_size: int | None = None
    n_ctx: int = 1500
    use_attn_result: bool = False
    dtype: torch.dtype = torch.float32
    stack: TransformerLensConfig = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.conv_dim = tuple(int(d) for d in self.conv_dim)
        self.conv_kernel = tuple(int(k) for k in self.conv_kernel)
        self.conv_stride = tuple(int(s) for s in self.conv_stride)
        self._validate()
        self.stack = TransformerLensConfig(
            d_model=self.d_model,
            d_head=self.d_model // self.n_heads,
            n_layers=self.n_layers,
            n_ctx=self.n_ctx,
            n_heads=self.n_heads,
            d_mlp=self.d_mlp,
            d_vocab=self.vocab_size if self.vocab_size is not None else -1,
            device="cpu",
            use_attn_result=self.use_attn_result,
            positional_embedding_type="conv",
            act_fn="gelu",
            # Post-LN blocks renormalise the residual stream inside each block, so
            # TransformerLens's LN-scale helpers (`apply_ln_to_stack`) do not apply to them.
            normalization_type="LN" if self.do_stable_layer_norm else None,
            eps=self.eps,
            dtype=self.dtype,
        )

    def _validate(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}."
            )
        if self.feat_extract_norm not in FEAT_EXTRACT_NORMS:
            raise ValueError(
                f"feat_extract_norm must be one of {FEAT_EXTRACT_NORMS}, got "
                f"{self.feat_extract_norm!r}."
            )
        lengths = {len(self.conv_dim), len(self.conv_kernel), len(self.conv_stride)}
        if len(lengths) != 1 or not self.conv_dim:
            raise ValueError(
                f"conv_dim, conv_kernel and conv_stride must have one entry per conv layer; got "
                f"{len(self.conv_dim)}, {len(self.conv_kernel)} and {len(self.conv_stride)}."
            )
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}.")
        if self.d_model % self.num_conv_pos_embedding_groups:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by num_conv_pos_embedding_groups="
                f"{self.num_conv_pos_embedding_groups}."
            )
        if self.architecture == "wav2vec2" and not self.feat_proj_layer_norm:
            raise ValueError(
                "feat_proj_layer_norm=False exists on HuBERT only: wav2vec2's "
                "feature projection always normalises."
            )

    # ------------------------------------------------------------ conv stack arithmetic
    @property
    def hop_length(self) -> int:
        """Samples between consecutive positions: the product of the conv strides (320)."""
        hop = 1
        for stride in self.conv_stride:
            hop *= stride
        return hop

    @property
    def receptive_field(self) -> int:
        """Samples one position hears: 400 (25 ms) for the standard conv stack."""
        field_, jump = 1, 1
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            field_ += (kernel - 1) * jump
            jump *= stride
        return field_

    def n_positions(self, n_samples: int) -> int:
        """Positions for a waveform of `n_samples`: `(n_samples - 400) // 320 + 1` (0 if shorter
        than the receptive field)."""
        if n_samples < self.receptive_field:
            return 0
        return (n_samples - self.receptive_field) // self.hop_length + 1

    def n_samples_used(self, n_positions: int) -> int:
        """Samples the conv stack reads for `n_positions`: `n_positions * 320 + 80`."""
        return (n_positions - 1) * self.hop_length + self.receptive_field

    @property
    def seconds_per_position(self) -> float:
        return self.hop_length / SAMPLE_RATE
