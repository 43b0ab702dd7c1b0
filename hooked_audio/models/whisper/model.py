"""`HookedWhisper`: OpenAI Whisper rebuilt with a TransformerLens hook at every activation.

The module tree mirrors openai-whisper's (`encoder.blocks.{l}`, `decoder.blocks.{l}.cross_attn`),
the parameters use TransformerLens's per-head layout, and the model speaks openai-whisper's
inference protocol, so `whisper.transcribe(model, ...)` and `whisper.decode(...)` run on it.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable
from typing import Any, Union

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from whisper.decoding import detect_language as whisper_detect_language
from whisper.model import ModelDimensions

from hooked_audio.audio import frames_to_mel
from hooked_audio.checks import check_flags
from hooked_audio.hooked_root import HookedAudioRoot
from hooked_audio.models.whisper.audio_input import WhisperAudioMixin
from hooked_audio.models.whisper.cache_extents import whisper_cache_extents
from hooked_audio.models.whisper.config import HookedWhisperConfig
from hooked_audio.models.whisper.decoder import WhisperDecoder
from hooked_audio.models.whisper.encoder import WhisperEncoder
from hooked_audio.models.whisper.inference import WhisperInferenceMixin, install_ffmpeg_fallback
from hooked_audio.models.whisper.kv_cache import install_kv_cache_hooks
from hooked_audio.models.whisper.token_input import as_tokens
from hooked_audio.models.whisper.tokenization import WhisperTokensMixin, normalise_language
from hooked_audio.models.whisper.vocabulary import NON_LANGUAGE_VOCAB_SIZE
from hooked_audio.models.whisper.weight_conversion import convert_openai_state_dict
from hooked_audio.weight_checks import check_finite_weights

AlignmentHeads = Union[bytes, Iterable[tuple[int, int]]]


class HookedWhisper(WhisperTokensMixin, WhisperAudioMixin, WhisperInferenceMixin, HookedAudioRoot):
    """Whisper (encoder + decoder) with hooks, for `run_with_cache` / `run_with_hooks`.

    Build a random model with `HookedWhisper(dims)` (any `whisper.model.ModelDimensions`,
    small `n_audio_ctx` allowed), or load real weights with `HookedWhisper.from_pretrained`.

    `model.config` is the `HookedWhisperConfig` (openai-whisper's `dims` and one TransformerLens
    config per stack, `.encoder` / `.decoder`); `model.cfg` is TransformerLens's config of the
    decoder, the stack whose output is the logits (`model.cfg is model.config.decoder`).
    """

    hook_examples = (
        "'encoder.blocks.0.hook_resid_pre' or 'decoder.blocks.1.cross_attn.hook_pattern'"
    )

    def __init__(
        self,
        dims: ModelDimensions,
        use_attn_result: bool = False,
        language: str | None = None,
        task: str = "transcribe",
        seed: int | None = None,
        init_weights: bool = True,
    ):
        super().__init__()
        self.dims = dims
        self.config = HookedWhisperConfig(dims, use_attn_result=use_attn_result)
        self.cfg = self.config.decoder
        self.encoder = WhisperEncoder(self.config.encoder, dims.n_mels)
        self.decoder = WhisperDecoder(self.config.decoder)
        self.language = normalise_language(language, self.config.is_multilingual)
        if self.config.is_multilingual and self.language is None:
            self.language = "en"
        self.task = task
        # openai-whisper's default: every head of the second half of the decoder.
        heads = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
        heads[dims.n_text_layer // 2 :] = True
        self.register_buffer("alignment_heads", heads.to_sparse(), persistent=False)
        if init_weights:  # loaders skip it: every parameter is overwritten right after
            self.init_weights(seed)
        self.setup()
        self.eval()
        install_ffmpeg_fallback()  # whisper.transcribe(model, path) without ffmpeg

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_openai_state_dict(
        cls,
        dims: ModelDimensions,
        state_dict: dict[str, Tensor],
        alignment_heads: AlignmentHeads | None = None,
        **kwargs: Any,
    ) -> HookedWhisper:
        """From openai-whisper's own parameter names (`Whisper.state_dict()`); weights holding
        NaN or infinity are refused."""
        check_finite_weights(state_dict, "from_openai_state_dict")
        model = cls(dims, init_weights=False, **kwargs)
        converted = convert_openai_state_dict(state_dict, dims)
        model.load_state_dict({k: v.float() for k, v in converted.items()}, strict=True)
        if alignment_heads is not None:
            model.set_alignment_heads(alignment_heads)
        return model

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        fold_ln: bool = False,
        center_writing_weights: bool = False,
        center_unembed: bool = False,
        fold_value_biases: bool = False,
        **kwargs: Any,
    ) -> HookedWhisper:
        """Load real weights. `name_or_path` may be an openai-whisper name ("tiny.en", "base",
        "large-v3", ...), a local openai-whisper `.pt`, a HF transformers Whisper directory,
        or a CTranslate2 / faster-whisper directory (`model.bin`). See `resolve_checkpoint`.

        `fold_ln`, `center_writing_weights`, `center_unembed`, `fold_value_biases`:
        TransformerLens's weight processing (`process_weights_`), off by default so that the
        weights are the checkpoint's; done in float32 before the cast to `dtype`."""
        from hooked_audio.models.whisper.loading.pretrained import resolve_checkpoint

        ckpt = resolve_checkpoint(name_or_path)
        model = cls.from_openai_state_dict(
            ckpt.dims, ckpt.state_dict, ckpt.alignment_heads, **kwargs
        )
        model.process_weights_(fold_ln, center_writing_weights, center_unembed, fold_value_biases)
        return model.to(device=device or "cpu", dtype=dtype)

    def process_weights_(
        self,
        fold_ln: bool = True,
        center_writing_weights: bool = True,
        center_unembed: bool = True,
        fold_value_biases: bool = True,
    ) -> HookedWhisper:
        """TransformerLens's weight processing, in place (see
        `hooked_audio.models.whisper.weight_processing`); returns the model."""
        from hooked_audio.models.whisper.weight_processing import process_weights_

        check_flags(
            fold_ln=fold_ln,
            center_writing_weights=center_writing_weights,
            center_unembed=center_unembed,
            fold_value_biases=fold_value_biases,
        )
        return process_weights_(
            self, fold_ln, center_writing_weights, center_unembed, fold_value_biases
        )

    @classmethod
    def from_hf(cls, hf_model: nn.Module, **kwargs: Any) -> HookedWhisper:
        """From an in-memory HF `transformers.WhisperForConditionalGeneration`."""
        from hooked_audio.models.whisper.loading import hf_to_checkpoint

        ckpt = hf_to_checkpoint(hf_model)
        param = next(hf_model.parameters())
        model = cls.from_openai_state_dict(
            ckpt.dims, ckpt.state_dict, ckpt.alignment_heads, **kwargs
        )
        return model.to(device=param.device, dtype=param.dtype)

    stack_configs = property(lambda self: (self.config.encoder, self.config.decoder))

    def set_alignment_heads(self, heads: AlignmentHeads) -> None:
        """openai-whisper's base85 dump (`whisper._ALIGNMENT_HEADS[name]`) or (layer, head)
        pairs."""
        shape = (self.dims.n_text_layer, self.dims.n_text_head)
        if isinstance(heads, (bytes, str)):
            dump = heads.encode() if isinstance(heads, str) else heads
            array = np.frombuffer(gzip.decompress(base64.b85decode(dump)), dtype=bool).copy()
            mask = torch.from_numpy(array).reshape(shape)
        else:
            mask = torch.zeros(shape, dtype=torch.bool)
            for layer, head in heads:
                if not (0 <= layer < shape[0] and 0 <= head < shape[1]):
                    raise ValueError(f"Alignment head ({layer}, {head}) is outside {shape}.")
                mask[layer, head] = True
        self.register_buffer("alignment_heads", mask.to_sparse().to(self.device), persistent=False)

    # ----------------------------------------------------------------- forward
    def to_mel_input(self, audio: Tensor) -> Float[Tensor, "batch n_mels mel_frames"]:
        """A log-mel `[batch, n_mels, T]` or framed log-mel `[batch, 2, n_mels, pos]` -> log-mel."""
        if not isinstance(audio, Tensor):
            raise TypeError(
                f"The model takes a log-mel tensor, got {type(audio).__name__}. Convert audio "
                "first: `model.to_mel(path_or_waveform, sample_rate=...)` or "
                "`model.to_frames(...)`."
            )
        if audio.ndim == 4 and audio.shape[1] == 2:
            self.encoder.check_frames(audio)
            return frames_to_mel(audio)
        if audio.ndim == 3:
            return audio
        raise ValueError(
            f"Audio input of shape {tuple(audio.shape)} is neither a log-mel (batch, n_mels, "
            "mel_frames) nor framed (batch, 2, n_mels, pos); add the batch axis with "
            "`mel[None]` or build it with `model.to_mel(...)`."
        )

    def check_finite(self, mel: Tensor) -> None:
        if mel.is_meta:
            raise ValueError(
                "The audio input is on the meta device: it has a shape but no values to run. "
                "Build it on a real device (model.to_mel(audio), then .to(model.device))."
            )
        if not torch.isfinite(mel).all():
            raise ValueError(
                f"The audio input holds {int((~torch.isfinite(mel)).sum())} NaN or "
                "infinite values; check the waveform before `to_mel`."
            )

    def forward(
        self,
        audio: Float[Tensor, "batch n_mels mel_frames"] | Float[Tensor, "batch 2 n_mels pos"],
        tokens: Int[Tensor, "batch n_tokens"],
    ) -> Float[Tensor, "batch n_tokens d_vocab"]:
        """Logits of the decoder, teacher-forced on `tokens` (ids `[batch, n]`, `[n]`, or a list
        of ids), for a log-mel or framed log-mel."""
        mel = self.to_mel_input(audio)
        self.check_finite(mel)
        tokens = as_tokens(tokens, self.device)
        if mel.shape[0] != tokens.shape[0] and mel.shape[0] != 1:
            raise ValueError(
                f"Audio batch {mel.shape[0]} and token batch {tokens.shape[0]} differ."
            )
        audio_features = self.encoder(mel)
        if audio_features.shape[0] != tokens.shape[0]:
            audio_features = audio_features.expand(tokens.shape[0], -1, -1)
        return self.decoder(tokens, audio_features)

    # ----------------------------------------------------------------- stream views
    def encoder_stream(self, tokens: Int[Tensor, "batch n_tokens"]):
        """The encoder as a TransformerLens model: input framed audio (`pos` = 20 ms frame),
        `tokens` bound. See `hooked_audio.patching.WhisperEncoderStream`."""
        from hooked_audio.models.whisper.streams import WhisperEncoderStream

        return WhisperEncoderStream(self, as_tokens(tokens, self.device))

    def decoder_stream(self, audio: Tensor | None = None, audio_features: Tensor | None = None):
        """The decoder as a TransformerLens model: input token ids, the audio bound and encoded
        once. See `hooked_audio.patching.WhisperDecoderStream`."""
        from hooked_audio.models.whisper.streams import WhisperDecoderStream

        return WhisperDecoderStream(self, audio, audio_features)

    # ----------------------------------------------------------------- openai-whisper protocol
    def embed_audio(self, mel: Tensor) -> Float[Tensor, "batch pos d_model"]:
        return self.encoder(self.to_mel_input(mel))

    def logits(self, tokens: Tensor, audio_features: Tensor) -> Float[Tensor, "batch pos d_vocab"]:
        return self.decoder(tokens, audio_features)

    def install_kv_cache_hooks(self, cache: dict | None = None):
        return install_kv_cache_hooks(self.decoder, self.dims.n_text_ctx, cache)

    @property
    def is_multilingual(self) -> bool:
        """openai-whisper's name (its decoding reads it first; this library's code reads
        `config.is_multilingual`). Refuses a model whose dtype openai-whisper's decoding cannot
        run, so `whisper.decode(model, ...)` / `whisper.transcribe(model, ...)` on a bfloat16
        model fail here with the fix instead of deep inside openai-whisper."""
        from hooked_audio.models.whisper.inference import check_decoding_dtype

        check_decoding_dtype(self.W_E.dtype)
        return self.config.is_multilingual

    @property
    def num_languages(self) -> int:
        return self.dims.n_vocab - NON_LANGUAGE_VOCAB_SIZE - int(self.config.is_multilingual)

    @property
    def W_E(self) -> Float[Tensor, "d_vocab d_model"]:
        return self.decoder.W_E

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        return self.decoder.W_U

    @property
    def b_U(self) -> Float[Tensor, " d_vocab"]:
        return self.decoder.b_U

    @property
    def W_pos(self) -> Float[Tensor, "n_text_ctx d_model"]:
        return self.decoder.W_pos

    detect_language = whisper_detect_language

    def cache_extents(self, audio: Any = None, tokens: Any = None) -> dict | None:
        """Each stack's sizes for `model(audio, tokens)` (`run_with_cache`'s memory check)."""
        return whisper_cache_extents(self, audio, tokens)
