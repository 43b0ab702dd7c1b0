"""`HookedAudioLM`: an audio-language model (Qwen2-Audio, Voxtral) with a TransformerLens hook
at every activation of its audio tower, projector and language model.

The language model sits at the top level with TransformerLens's names (`hook_embed`,
`blocks.{l}...`, `ln_final`, `unembed`), the audio tower under `audio_encoder.` and the
projector under `projector.`. `hook_audio_embed` is the sequence the language model reads:
token embeddings with the audio embeddings written over the audio placeholders.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from hooked_audio.checks import check_flags
from hooked_audio.components import LayerKVCache, RMSNorm, RotaryEmbedding
from hooked_audio.components.attend import allowed_keys
from hooked_audio.components.rotary import default_inv_freq
from hooked_audio.components.stacked_weights import StackedWeightsMixin
from hooked_audio.hook_point import AudioHookPoint
from hooked_audio.hooked_root import HookedAudioRoot
from hooked_audio.models.audio_lm.audio_tower import AudioTower, pooled_lengths
from hooked_audio.models.audio_lm.cache_extents import audio_lm_cache_extents
from hooked_audio.models.audio_lm.config import HookedAudioLMConfig
from hooked_audio.models.audio_lm.embedding import Embed, Unembed
from hooked_audio.models.audio_lm.generation import AudioLMGenerationMixin
from hooked_audio.models.audio_lm.inputs import (
    audio_positions,
    check_features,
    check_input_ids,
    check_placeholders,
    mel_lengths_of,
)
from hooked_audio.models.audio_lm.lm_block import LMBlock
from hooked_audio.models.audio_lm.projector import LinearProjector, StackingProjector
from hooked_audio.models.audio_lm.prompting import AudioLMPromptingMixin


class HookedAudioLM(
    AudioLMPromptingMixin, AudioLMGenerationMixin, StackedWeightsMixin, HookedAudioRoot
):
    """Build a random model with `HookedAudioLM(cfg)`; load one with `from_hf(hf_model)` or
    `from_pretrained(name_or_dir)`. Call it with the HF model's keyword inputs:
    `model(input_ids=..., input_features=..., attention_mask=..., feature_attention_mask=...)`.
    """

    hook_examples = (
        "'blocks.0.hook_resid_pre', 'hook_audio_embed' or "
        "'audio_encoder.blocks.1.attn.hook_pattern'"
    )

    def __init__(
        self, cfg: HookedAudioLMConfig, seed: int | None = None, init_weights: bool = True
    ):
        super().__init__()
        self.config = cfg
        self.cfg = cfg.lm
        self.audio_encoder = AudioTower(
            cfg.audio, cfg.n_mels, cfg.audio_pool, mask_padding=cfg.arch.masks_padding
        )
        if cfg.projector == "linear":
            self.projector = LinearProjector(cfg.audio_d_model, cfg.d_model)
        else:
            self.projector = StackingProjector(
                cfg.audio_d_model, cfg.d_model, cfg.projector_stack, cfg.projector_act
            )
        self.embed = Embed(cfg.d_vocab, cfg.d_model)
        self.hook_embed = AudioHookPoint()  # [batch, pos, d_model], token embeddings
        self.hook_audio_embed = AudioHookPoint()  # [batch, pos, d_model], audio merged in
        self.rotary = RotaryEmbedding(default_inv_freq(cfg.d_head, cfg.rope_base))
        self.blocks = nn.ModuleList([LMBlock(cfg.lm) for _ in range(cfg.n_layers)])
        self.ln_final = RMSNorm(cfg.d_model, cfg.eps)
        self.unembed = Unembed(cfg.d_model, cfg.d_vocab)
        if init_weights:
            self.init_weights(seed)
        self.setup()
        self.eval()

    # ----------------------------------------------------------------- construction
    def init_weights(self, seed: int | None = None) -> None:
        """Random weights (normal, std 0.02; norms identity, biases zero); the tower's fixed
        positions are Whisper's sinusoids."""
        from whisper.model import sinusoids

        super().init_weights(seed)
        with torch.no_grad():
            self.audio_encoder.W_pos.copy_(sinusoids(*self.audio_encoder.W_pos.shape))

    @classmethod
    def from_hf(cls, hf_model: nn.Module, **kwargs: Any) -> HookedAudioLM:
        """From an in-memory HF `Qwen2AudioForConditionalGeneration` or
        `VoxtralForConditionalGeneration` (same device and dtype as it)."""
        from hooked_audio.models.audio_lm.hf_conversion import convert_hf_model

        cfg = HookedAudioLMConfig.from_hf_config(hf_model.config, **kwargs)
        model = cls(cfg, init_weights=False)
        state_dict, inv_freq, scaling = convert_hf_model(hf_model, cfg)
        model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
        model.rotary.inv_freq.copy_(inv_freq)
        model.rotary.attention_scaling = scaling
        param = next(hf_model.parameters())
        return model.to(device=param.device, dtype=param.dtype)

    def process_weights_(
        self,
        fold_ln: bool = True,
        center_writing_weights: bool = False,
        center_unembed: bool = True,
        fold_value_biases: bool = True,
    ) -> HookedAudioLM:
        """TransformerLens's weight processing of the language model, in place, as for its
        RMSNorm models (`hooked_audio.models.audio_lm.weight_processing`); returns the model.
        `center_writing_weights` is refused: RMSNorm does not remove the mean."""
        from hooked_audio.models.audio_lm.weight_processing import process_weights_

        check_flags(
            fold_ln=fold_ln,
            center_writing_weights=center_writing_weights,
            center_unembed=center_unembed,
            fold_value_biases=fold_value_biases,
        )
        if center_writing_weights:
            raise ValueError(
                "center_writing_weights needs LayerNorm, which removes the mean of the stream; "
                "this language model normalises with RMSNorm, which does not, so centring "
                "would change its outputs (TransformerLens skips it for RMS models too)."
            )
        return process_weights_(self, fold_ln, center_unembed, fold_value_biases)

    @classmethod
    def from_pretrained(
        cls,
        name_or_dir: str,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        **kwargs: Any,
    ) -> HookedAudioLM:
        """Load a checkpoint directory (or a hub name already in the local HF cache) with
        `transformers`, then convert it; the checkpoint's processor is attached when it has
        one that fits (`model.processor`), else a warning says why not (e.g. Voxtral's needs
        mistral-common). Needs `pip install hooked-audio[hf]`."""
        from hooked_audio.models.audio_lm.hf_conversion import load_hf_model, load_hf_processor

        hf_model = load_hf_model(name_or_dir, dtype)
        model = cls.from_hf(hf_model, **kwargs)
        del hf_model
        try:
            model.set_processor(load_hf_processor(name_or_dir))
        except ValueError as error:
            warnings.warn(
                f"Weights loaded without the checkpoint's processor: {error}", stacklevel=2
            )
        return model.to(device=device or "cpu")

    stack_configs = property(lambda self: (self.config.lm, self.config.audio))

    # ----------------------------------------------------------------- audio
    def audio_positions(self, input_ids: Int[Tensor, "batch pos"]) -> Bool[Tensor, "batch pos"]:
        """True where `input_ids` hold audio placeholders, i.e. where audio embeddings go."""
        return audio_positions(self.config, input_ids)

    def embed_audio(
        self,
        input_features: Float[Tensor, "n_audio n_mels frames"],
        feature_attention_mask: Tensor | None = None,
    ) -> Float[Tensor, "n_embeddings d_model"]:
        """Audio tower and projector: the audio embeddings of every clip, padding dropped,
        concatenated in order (one row per audio placeholder of the prompt)."""
        features = check_features(self.config, input_features)
        mel_lengths = mel_lengths_of(self.config, feature_attention_mask, features.shape[0])
        return self.project_audio(self.audio_encoder(features, mel_lengths), mel_lengths)

    def project_audio(
        self,
        tower_out: Float[Tensor, "n_audio out_pos d_audio"],
        mel_lengths: Int[Tensor, " n_audio"] | None = None,
    ) -> Float[Tensor, "n_embeddings d_model"]:
        """Projector on the tower's output, then the valid embeddings of each clip in order."""
        projected = self.projector(tower_out)
        if mel_lengths is None:
            return projected.reshape(-1, projected.shape[-1])
        keep = pooled_lengths(mel_lengths, self.config.audio_pool).to(projected.device)
        valid = torch.arange(projected.shape[1], device=projected.device)[None] < keep[:, None]
        return projected[valid]

    def merge_audio(
        self,
        input_ids: Int[Tensor, "batch pos"],
        audio_embeds: Float[Tensor, "n_embeddings d_model"] | None,
        audio_at: Bool[Tensor, "batch pos"] | None = None,
    ) -> Float[Tensor, "batch pos d_model"]:
        """Token embeddings with the audio embeddings written over the placeholders.

        `audio_at` places the audio explicitly instead (no placeholder check): generation
        uses it so that an audio-token id the model generates is embedded as a token."""
        if audio_at is None:
            check_placeholders(
                self.config, input_ids, None if audio_embeds is None else audio_embeds.shape[0]
            )
            audio_at = self.audio_positions(input_ids)
        embeds = self.hook_embed(self.embed(input_ids))
        if audio_embeds is not None:
            embeds = embeds.masked_scatter(audio_at[..., None], audio_embeds.to(embeds.dtype))
        return self.hook_audio_embed(embeds)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        input_ids: Int[Tensor, "batch pos"],
        input_features: Float[Tensor, "n_audio n_mels frames"] | None = None,
        attention_mask: Int[Tensor, "batch pos"] | None = None,
        feature_attention_mask: Int[Tensor, "n_audio frames"] | None = None,
        position_ids: Int[Tensor, "batch pos"] | None = None,
        audio_embeds: Float[Tensor, "n_embeddings d_model"] | None = None,
        kv_caches: list[LayerKVCache] | None = None,
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Logits for the HF model's keyword inputs. `audio_embeds` (from `embed_audio`) skips
        the audio tower; `kv_caches` (one `LayerKVCache` per block) decodes incrementally, with
        `attention_mask` then covering the cached positions too."""
        input_ids = check_input_ids(input_ids)
        if input_features is not None:
            if audio_embeds is not None:
                raise ValueError("Give input_features or audio_embeds, not both.")
            audio_embeds = self.embed_audio(input_features, feature_attention_mask)
        resid = self.merge_audio(input_ids, audio_embeds)
        return self.run_from(0, resid, attention_mask, position_ids, kv_caches)

    def run_from(
        self,
        layer: int,
        resid_pre: Float[Tensor, "batch pos d_model"],
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        kv_caches: list[LayerKVCache] | None = None,
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Blocks `layer..`, `ln_final`, `unembed`, from `blocks.{layer}.hook_resid_pre`."""
        batch, n_new = resid_pre.shape[:2]
        past = 0 if not kv_caches or kv_caches[0].k is None else kv_caches[0].k.shape[1]
        if position_ids is None:
            position_ids = torch.arange(past, past + n_new, device=resid_pre.device)[None]
        key_valid = None
        if attention_mask is not None:
            if attention_mask.shape[-1] != past + n_new:
                raise ValueError(
                    f"attention_mask covers {attention_mask.shape[-1]} positions; the "
                    f"input has {n_new} (plus {past} cached)."
                )
            key_valid = attention_mask.bool()
            if key_valid.all():
                key_valid = None
        allowed = None  # plain causal: the attention takes the fused kernel's causal path
        if key_valid is not None:
            allowed = allowed_keys(n_new, True, key_valid, past + n_new, resid_pre.device)
        cos, sin = self.rotary(position_ids.to(resid_pre.device), resid_pre.dtype)
        x = resid_pre
        for i, block in enumerate(self.blocks[layer:], start=layer):
            x = block(x, cos, sin, allowed, None if kv_caches is None else kv_caches[i])
        return self.unembed(self.ln_final(x))

    # ----------------------------------------------------------------- TransformerLens surface
    # ----------------------------------------------------------------- stream views
    def lm_stream(
        self,
        input_features: Tensor | None = None,
        feature_attention_mask: Tensor | None = None,
        attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
        audio_embeds: Tensor | None = None,
    ):
        """The language model as a TransformerLens model: input `input_ids`, the audio bound
        and embedded once. See `hooked_audio.patching.AudioLMStream`."""
        from hooked_audio.models.audio_lm.streams import AudioLMStream

        return AudioLMStream(
            self, input_features, feature_attention_mask, attention_mask, position_ids, audio_embeds
        )

    def audio_stream(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        feature_attention_mask: Tensor | None = None,
        position_ids: Tensor | None = None,
    ):
        """The audio tower as a TransformerLens model: input framed log-mel (`pos` = 20 ms
        frame), the prompt bound. See `hooked_audio.patching.AudioTowerStream`."""
        from hooked_audio.models.audio_lm.streams import AudioTowerStream

        return AudioTowerStream(
            self, input_ids, attention_mask, feature_attention_mask, position_ids
        )

    def input_stream(self, inputs: dict):
        """The language model as a stream view that continues runs of the keyword `inputs`
        (their `attention_mask` and `position_ids` bound): what `position_sweep` resumes on."""
        return self.lm_stream(
            attention_mask=inputs.get("attention_mask"), position_ids=inputs.get("position_ids")
        )

    def check_aligned_inputs(self, clean: dict, corrupt: dict) -> None:
        """Refuse two keyword inputs whose positions do not line up (see `aligned_inputs`)."""
        from hooked_audio.models.audio_lm.aligned_inputs import check_aligned_inputs

        check_aligned_inputs(self, clean, corrupt)

    def cache_extents(self, *model_args: Any, **model_kwargs: Any) -> dict | None:
        """Each stack's sizes for `model(...)` of these inputs (`run_with_cache`'s memory
        check)."""
        return audio_lm_cache_extents(self, *model_args, **model_kwargs)

    W_E = property(lambda self: self.embed.W_E)
    W_U = property(lambda self: self.unembed.W_U)
    b_U = property(lambda self: self.unembed.b_U)
