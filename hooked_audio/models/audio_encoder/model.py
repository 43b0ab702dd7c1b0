"""`HookedAudioEncoder`: wav2vec2 and HuBERT (encoder, optional CTC head) rebuilt with a
TransformerLens hook at every activation.

    waveform [batch, samples] (16 kHz)
      -> feature_extractor (7 strided convs)     conv_layers.{i}.hook_out  [batch, frame_i, c]
      -> feature_projection (LayerNorm, linear)  hook_embed                [batch, pos, d_model]
      -> pos_conv (grouped conv, GELU)           hook_pos_embed            [batch, pos, d_model]
      -> embed + pos_embed (-> ln_embed on post-LN checkpoints)
      -> blocks.{l}                              blocks.{l}.hook_resid_pre ...
      -> ln_final (pre-LN checkpoints; identity on post-LN ones)
      -> unembed (CTC head, when the checkpoint has one)  logits [batch, pos, d_vocab]

One position is 20 ms (320 samples); the conv stack reads 400 samples per position.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

from hooked_audio.components import LayerNorm
from hooked_audio.components.pre_ln_block import PreLNBlock
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.hooked_root import HookedAudioRoot
from hooked_audio.models.audio_encoder.config import HookedAudioEncoderConfig
from hooked_audio.models.audio_encoder.ctc_text import load_ctc_tokenizer
from hooked_audio.models.audio_encoder.feature_extractor import ConvFeatureExtractor
from hooked_audio.models.audio_encoder.feature_projection import FeatureProjection
from hooked_audio.models.audio_encoder.frames import frames_to_waveform, waveform_to_frames
from hooked_audio.models.audio_encoder.inputs import check_waveform, feature_mask
from hooked_audio.models.audio_encoder.loading import hf_to_state, load_hf_directory
from hooked_audio.models.audio_encoder.positional_conv import PositionalConv
from hooked_audio.models.audio_encoder.post_ln_block import PostLNBlock
from hooked_audio.models.audio_encoder.streams import AudioEncoderStream
from hooked_audio.models.audio_encoder.unembed import Unembed

NO_TEXT = (
    "HookedAudioEncoder takes audio, not text tokens: run it on a "
    "waveform (`model(waveform)`), or its stream view on framed audio "
    "(`model.to_frames(waveform)`). CTC characters are ids into the checkpoint's "
    "vocab.json (`model.tokenizer`, read by from_pretrained)."
)

Waveform = Float[Tensor, "*batch samples"] | np.ndarray


class HookedAudioEncoder(HookedAudioRoot):
    """wav2vec2 / HuBERT with hooks, for `run_with_cache` / `run_with_hooks`.

    Build a random model with `HookedAudioEncoder(HookedAudioEncoderConfig(...))`, or convert
    a HF model with `from_hf` / `from_pretrained`. `model(waveform)` returns CTC logits
    `[batch, pos, d_vocab]` when the checkpoint has a CTC head, else the last hidden state
    `[batch, pos, d_model]`. For patching by position use `model.encoder_stream()`, whose
    input is framed audio (`model.to_frames(waveform)`).
    """

    hook_examples = "'blocks.0.hook_resid_pre' or 'feature_extractor.conv_layers.0.hook_out'"

    def __init__(
        self, config: HookedAudioEncoderConfig, seed: int | None = None, init_weights: bool = True
    ):
        super().__init__()
        self.config = config
        self.cfg = config.stack
        d_model, eps = config.d_model, config.eps
        self.feature_extractor = ConvFeatureExtractor(config)
        self.feature_projection = FeatureProjection(
            config.conv_dim[-1], d_model, eps, config.feat_proj_layer_norm
        )
        self.hook_embed = AudioHookPoint()  # [batch, pos, d_model], the feature projection
        self.pos_conv = PositionalConv(
            d_model, config.num_conv_pos_embeddings, config.num_conv_pos_embedding_groups
        )
        self.hook_pos_embed = AudioHookPoint()  # [batch, pos, d_model], the positional conv
        block = PreLNBlock if config.do_stable_layer_norm else PostLNBlock
        # Post-LN checkpoints normalise embed + pos_embed before block 0; pre-LN ones after
        # the last block. `ln_final` is the identity on post-LN ones (each block ends in ln2).
        self.ln_embed = None if config.do_stable_layer_norm else LayerNorm(d_model, eps=eps)
        self.blocks = nn.ModuleList(
            [
                block(
                    d_model,
                    config.n_heads,
                    d_mlp=config.d_mlp,
                    eps=eps,
                    use_attn_result=config.use_attn_result,
                )
                for _ in range(config.n_layers)
            ]
        )
        self.ln_final = (
            LayerNorm(d_model, eps=eps) if config.do_stable_layer_norm else nn.Identity()
        )
        self.unembed = None if config.vocab_size is None else Unembed(d_model, config.vocab_size)
        #: the CTC head's characters (transformers' `Wav2Vec2CTCTokenizer`): read from the
        #: checkpoint folder's vocab.json by `from_pretrained`, None without one
        self.tokenizer: Any = None
        if init_weights:  # loaders skip it: every parameter is overwritten right after
            self.init_weights(seed)
        self.setup()
        self.eval()

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_hf(cls, hf_model: nn.Module, use_attn_result: bool = False) -> HookedAudioEncoder:
        """From an in-memory HF `Wav2Vec2Model`, `HubertModel`, `Wav2Vec2ForCTC` or
        `HubertForCTC`, on its device and in its dtype."""
        config, state_dict = hf_to_state(hf_model)
        config = dataclasses.replace(config, use_attn_result=use_attn_result)
        model = cls(config, init_weights=False)
        model.load_state_dict(state_dict, strict=True)
        param = next(hf_model.parameters())
        return model.to(device=param.device, dtype=param.dtype)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        use_attn_result: bool = False,
    ) -> HookedAudioEncoder:
        """From a local HF checkpoint directory (`save_pretrained`: config.json + weights).
        A CTC checkpoint keeps its head, and its characters when the folder has the tokenizer's
        vocab.json (`model.tokenizer`: what studies use to score and transcribe);
        `Wav2Vec2ForPreTraining` / bare-encoder checkpoints load their encoder. Nothing is
        downloaded."""
        model = cls.from_hf(load_hf_directory(directory), use_attn_result=use_attn_result)
        model.tokenizer = load_ctc_tokenizer(directory)
        return model.to(device=device or "cpu", dtype=dtype)

    model_config = property(lambda self: self.config)
    stack_configs = property(lambda self: (self.cfg,))

    # ----------------------------------------------------------------- forward
    def forward(
        self, waveform: Waveform, attention_mask: Any | None = None, sample_rate: int | None = None
    ) -> Float[Tensor, "batch pos d_out"]:
        """CTC logits `[batch, pos, d_vocab]` (or the last hidden state `[batch, pos, d_model]`
        without a head) for a 16 kHz waveform `[samples]` or `[batch, samples]`.

        `attention_mask [batch, samples]` (1 = real, 0 = padding; right-padded) marks a padded
        batch as HF does: padded positions are zeroed before the positional conv and masked as
        keys. `sample_rate`, when given, must be 16000.
        """
        wave = check_waveform(waveform, self.config, sample_rate)
        wave = wave.to(device=self.device, dtype=self.feature_projection.W_proj.dtype)
        valid = feature_mask(attention_mask, wave, self.config)
        embed = self.feature_projection(self.feature_extractor(wave))
        if valid is not None:
            embed = embed.masked_fill(~valid[..., None], 0.0)
        embed = self.hook_embed(embed)
        resid = embed + self.hook_pos_embed(self.pos_conv(embed))
        if self.ln_embed is not None:
            resid = self.ln_embed(resid)
        return self.run_from(0, resid, valid)

    def run_from(
        self,
        layer: int,
        resid_pre: Float[Tensor, "batch pos d_model"],
        key_valid: Bool[Tensor, "batch pos"] | None = None,
    ) -> Float[Tensor, "batch pos d_out"]:
        """The output when block `layer` receives `resid_pre` (`layer == n_layers`: only
        `ln_final` and the head). Hooks of later blocks fire as in a full forward."""
        if not 0 <= layer <= self.cfg.n_layers:
            raise ValueError(f"layer must lie in [0, {self.cfg.n_layers}], got {layer}.")
        x = resid_pre
        for block in self.blocks[layer:]:
            x = block(x, key_valid)
        x = self.ln_final(x)
        return x if self.unembed is None else self.unembed(x)

    # ----------------------------------------------------------------- framed audio
    def n_positions(self, n_samples: int) -> int:
        """20 ms positions for `n_samples`: `(n_samples - 400) // 320 + 1`."""
        return self.config.n_positions(n_samples)

    def to_frames(
        self, waveform: Waveform, sample_rate: int | None = None
    ) -> Float[Tensor, "batch window pos"]:
        """The framed layout `[batch, 400, pos]` the stream view takes: `frames[..., p]` is the
        400-sample window position `p` hears. Samples after the last window are dropped (see
        `hooked_audio.models.audio_encoder.frames`)."""
        wave = check_waveform(waveform, self.config, sample_rate)
        return waveform_to_frames(wave, self.config.hop_length, self.config.receptive_field)

    def from_frames(
        self, frames: Float[Tensor, "batch window pos"]
    ) -> Float[Tensor, "batch samples"]:
        """Inverse of `to_frames`: the waveform the frames describe (`n_pos * 320 + 80`
        samples), each sample read once."""
        if frames.ndim != 3 or frames.shape[1] != self.config.receptive_field:
            raise ValueError(
                f"Expected framed audio (batch, {self.config.receptive_field}, pos), got shape "
                f"{tuple(frames.shape)}. Build it with `model.to_frames(waveform)`."
            )
        return frames_to_waveform(frames, self.config.hop_length)

    def encoder_stream(self) -> AudioEncoderStream:
        """The model as a TransformerLens model whose input is framed audio (`pos` = 20 ms):
        see `AudioEncoderStream`."""
        return AudioEncoderStream(self)

    # ----------------------------------------------------------------- head and text
    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        """The CTC head's unembedding (no such attribute without a head)."""
        return self.unembed.W_U

    @property
    def b_U(self) -> Float[Tensor, " d_vocab"]:  # noqa: F821, UP037
        """The CTC head's bias (no such attribute without a head)."""
        return self.unembed.b_U

    def to_tokens(self, *args: Any, **kwargs: Any) -> Tensor:
        raise TypeError(NO_TEXT)

    def to_single_token(self, *args: Any, **kwargs: Any) -> int:
        raise TypeError(NO_TEXT)
