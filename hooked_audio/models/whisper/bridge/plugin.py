"""The Whisper adapter as hooked_audio ships it for TransformerLens 4.3.0.

`transformer_lens_whisper.WhisperArchitectureAdapter` is the adapter as TransformerLens would
merge it (upstream/transformer_lens/). Until TransformerLens's loader carries the small changes
listed in docs/transformer_lens_bridge.md, `WhisperPluginAdapter` closes the gaps from outside:
the log-mel reaches Whisper's `input_features` (4.3.0 passes an audio model's tensor input as
`input_values`), calls are checked before TransformerBridge's forward builds decoder inputs
from a spectrogram (`inputs.checked_forward`), transformers' seq2seq auto class learns to
build Whisper, and every checkpoint option is checked against a whitelist.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import torch

from hooked_audio.models.config_options import check_hf_config
from hooked_audio.models.whisper.bridge.inputs import checked_forward
from hooked_audio.models.whisper.bridge.transformer_lens_whisper import (
    WhisperArchitectureAdapter,
)
from hooked_audio.models.whisper.loading.huggingface import HF_WHISPER_OPTIONS

#: What the Bridge does with each `WhisperConfig` option: HF's own modules compute every
#: layer, so the architecture options HookedWhisper checks by value (activation, MLP widths)
#: are all represented here; anything else that differs from WhisperConfig's defaults is refused.
WHISPER_BRIDGE_OPTIONS = dataclasses.replace(
    HF_WHISPER_OPTIONS, family="the TransformerBridge Whisper adapter"
)


class WhisperPluginAdapter(WhisperArchitectureAdapter):
    """`WhisperArchitectureAdapter` on an unmodified TransformerLens 4.3.0."""

    def prepare_loading(self, model_name: str, model_kwargs: dict) -> None:
        """Refuse, by name, a checkpoint option this adapter does not represent, before any
        weight is read; let transformers' seq2seq auto class build Whisper."""
        super().prepare_loading(model_name, model_kwargs)
        config = model_kwargs.get("config")
        if config is not None:
            check_whisper_config(config, source=str(model_name))
        _let_seq2seq_auto_class_build_whisper()

    def prepare_model(self, hf_model: Any) -> None:
        check_whisper_config(hf_model.config, source=type(hf_model).__name__)
        super().prepare_model(hf_model)
        if not getattr(hf_model.forward, "_hooked_audio_audio_call", False):
            hf_model.forward = _audio_call(hf_model.forward)

    def setup_hook_compatibility(self, bridge: Any) -> None:
        super().setup_hook_compatibility(bridge)
        checked_forward(bridge)


def check_whisper_config(config: Any, source: str) -> None:
    """A `WhisperConfig` whose options all are represented by the adapter, else a
    `ValueError` naming the others."""
    if getattr(config, "model_type", None) != "whisper":
        raise ValueError(
            f"{source} is a {getattr(config, 'model_type', None)!r} model; the Whisper adapter "
            "takes WhisperForConditionalGeneration checkpoints."
        )
    check_hf_config(config, WHISPER_BRIDGE_OPTIONS, source=source)


def _audio_call(forward: Any) -> Any:
    """`WhisperForConditionalGeneration.forward`, also taking the log-mel as `input_values`
    (the keyword TransformerBridge 4.3.0 passes an audio model's tensor input as)."""

    @functools.wraps(forward)
    def call(*args: Any, input_values: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if input_values is not None:
            if kwargs.get("input_features") is not None:
                raise ValueError("Give the log-mel once: as the input, or as input_features.")
            kwargs["input_features"] = input_values
        return forward(*args, **kwargs)

    call._hooked_audio_audio_call = True  # type: ignore[attr-defined]
    return call


def _let_seq2seq_auto_class_build_whisper() -> None:
    """TransformerLens 4.3.0 builds encoder-decoder models with `AutoModelForSeq2SeqLM`, which
    has no Whisper entry (transformers files Whisper under `AutoModelForSpeechSeq2Seq`); add
    it, through transformers' own registration API."""
    import transformers

    transformers.AutoModelForSeq2SeqLM.register(
        transformers.WhisperConfig, transformers.WhisperForConditionalGeneration, exist_ok=True
    )
