"""The audio-LM architectures `HookedAudioLM` knows, one `AudioLMArchitecture` each, and their
registry.

Every architecture is a Whisper-style audio tower, a projector and a Qwen2/Llama-style
language model; an architecture object holds what differs between them: the HF names, whether
the tower masks padded frames, how tower frames become language-model positions, how the
processor builds inputs and long audio, and how a processor is checked against the model.
`HookedAudioLMConfig.arch` looks the object up by `HookedAudioLMConfig.architecture`.

A new architecture is one `AudioLMArchitecture` passed to `register_architecture`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hooked_audio.models.audio_lm.qwen2_audio_prompting import check_qwen2_audio_processor
from hooked_audio.models.audio_lm.voxtral_prompting import check_voxtral_processor


@dataclass(frozen=True)
class AudioLMArchitecture:
    """What one audio-LM architecture does its own way.

    `model_type`: the HF `config.model_type`, also the `architecture` of a
    `HookedAudioLMConfig`. `hf_model_class` / `processor_class`: the `transformers` classes.
    `audio_pool`: tower frames averaged per output (2: 40 ms). `projector`: `"linear"` or
    `"stack"` (see `projector.py`). `masks_padding`: the tower masks padded frames as keys, so
    inputs carry a `feature_attention_mask`; otherwise every clip is padded to whole windows
    and attended in full. `splits_long_audio`: the processor cuts a clip longer than one 30 s
    window into several windows (otherwise such a clip is refused). `chat_template_inputs`: the
    processor builds inputs only through its chat template (no text with placeholders).
    `hf_config_fields(hf_config)`: the `HookedAudioLMConfig` fields this architecture sets
    beyond `audio_pool` / `projector`; `hf_options`: the HF config options (dotted names) those
    fields read, beyond what every architecture reads (`config.AUDIO_LM_OPTIONS`): any other
    option that differs from its default is refused. `check_processor(cfg, processor)`: raise a
    `ValueError` naming the mismatch when a processor of the right class does not fit the model.
    """

    model_type: str
    display_name: str
    hf_model_class: str
    processor_class: str
    audio_pool: int
    projector: str
    masks_padding: bool
    splits_long_audio: bool
    chat_template_inputs: bool
    hf_config_fields: Callable[[Any], dict[str, Any]]
    check_processor: Callable[[Any, Any], None]
    hf_options: frozenset[str] = field(default_factory=frozenset)

    def config_fields(self, hf_config: Any) -> dict[str, Any]:
        """The architecture's `HookedAudioLMConfig` fields for a HF config."""
        return dict(
            audio_pool=self.audio_pool, projector=self.projector, **self.hf_config_fields(hf_config)
        )


ARCHITECTURES: dict[str, AudioLMArchitecture] = {}


def register_architecture(arch: AudioLMArchitecture) -> AudioLMArchitecture:
    """Make `arch` known to `HookedAudioLMConfig` and the loaders, under its `model_type`."""
    if arch.projector not in ("linear", "stack"):
        raise ValueError(f"Unknown projector {arch.projector!r}: 'linear' or 'stack'.")
    ARCHITECTURES[arch.model_type] = arch
    return arch


def get_architecture(name: str) -> AudioLMArchitecture:
    """The registered architecture of model type `name`, or a `ValueError` listing them."""
    if name not in ARCHITECTURES:
        raise ValueError(
            f"Unknown audio-LM architecture {name!r}; registered: {', '.join(ARCHITECTURES)}. "
            "A new one is an AudioLMArchitecture passed to "
            "hooked_audio.models.audio_lm.architectures.register_architecture."
        )
    return ARCHITECTURES[name]


def _qwen2_audio_fields(hf_config: Any) -> dict[str, Any]:
    return dict(qkv_bias=True)


def _voxtral_fields(hf_config: Any) -> dict[str, Any]:
    audio, text = hf_config.audio_config, hf_config.text_config
    stack = audio.intermediate_size // audio.hidden_size
    if stack * audio.hidden_size != audio.intermediate_size:
        raise ValueError(
            "Voxtral's projector stacks intermediate_size / hidden_size audio "
            "frames; that ratio must be a whole number."
        )
    if hf_config.hidden_size != text.hidden_size:
        raise ValueError(
            f"Voxtral's config.hidden_size ({hf_config.hidden_size}) differs from its language "
            f"model's text_config.hidden_size ({text.hidden_size}); the projector maps audio "
            "to the language model's width, so they must agree."
        )
    return dict(
        projector_stack=stack,
        projector_act=hf_config.projector_hidden_act,
        qkv_bias=bool(getattr(text, "attention_bias", False)),
        mlp_bias=bool(getattr(text, "mlp_bias", False)),
    )


QWEN2_AUDIO = register_architecture(
    AudioLMArchitecture(
        model_type="qwen2_audio",
        display_name="Qwen2-Audio",
        hf_model_class="Qwen2AudioForConditionalGeneration",
        processor_class="Qwen2AudioProcessor",
        audio_pool=2,
        projector="linear",
        masks_padding=True,
        splits_long_audio=False,
        chat_template_inputs=False,
        hf_config_fields=_qwen2_audio_fields,
        check_processor=check_qwen2_audio_processor,
    )
)

VOXTRAL = register_architecture(
    AudioLMArchitecture(
        model_type="voxtral",
        display_name="Voxtral",
        hf_model_class="VoxtralForConditionalGeneration",
        processor_class="VoxtralProcessor",
        audio_pool=1,
        projector="stack",
        masks_padding=False,
        splits_long_audio=True,
        chat_template_inputs=True,
        hf_config_fields=_voxtral_fields,
        check_processor=check_voxtral_processor,
        hf_options=frozenset(
            {
                "hidden_size",
                "projector_hidden_act",
                "audio_config.intermediate_size",
                "text_config.attention_bias",
                "text_config.mlp_bias",
            }
        ),
    )
)
