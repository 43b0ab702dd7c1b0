"""Reading HF transformers wav2vec2 / HuBERT models: in memory, or from a saved directory.

transformers is optional (`pip install hooked-audio[hf]`); it is imported when called.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from hooked_audio.models.audio_encoder.config import HookedAudioEncoderConfig
from hooked_audio.models.audio_encoder.hf_config import config_from_hf
from hooked_audio.models.audio_encoder.weight_conversion import convert_hf_weights
from hooked_audio.weight_checks import check_finite_weights

ACCEPTED = ("Wav2Vec2Model", "HubertModel", "Wav2Vec2ForCTC", "HubertForCTC")
#: checkpoint architectures whose encoder is loaded without their head
ENCODER_ONLY = ("Wav2Vec2Model", "HubertModel", "Wav2Vec2ForPreTraining")


def _classes() -> dict[str, type]:
    import transformers

    return {name: getattr(transformers, name) for name in ACCEPTED}


def split_hf_model(hf_model: nn.Module) -> tuple[Any, nn.Linear | None]:
    """`(base encoder, CTC lm_head or None)` of one of the four accepted HF classes."""
    classes = _classes()
    if isinstance(hf_model, (classes["Wav2Vec2ForCTC"], classes["HubertForCTC"])):
        base = hf_model.wav2vec2 if hasattr(hf_model, "wav2vec2") else hf_model.hubert
        return base, hf_model.lm_head
    if isinstance(hf_model, (classes["Wav2Vec2Model"], classes["HubertModel"])):
        return hf_model, None
    inner = [
        name
        for name in ("wav2vec2", "hubert")
        if isinstance(getattr(hf_model, name, None), nn.Module)
    ]
    hint = (
        f" Its encoder alone loads with `HookedAudioEncoder.from_hf(hf_model.{inner[0]})`."
        if inner
        else ""
    )
    raise TypeError(
        f"from_hf takes one of {', '.join(ACCEPTED)}; got {type(hf_model).__name__}.{hint}"
    )


def hf_to_state(hf_model: nn.Module) -> tuple[HookedAudioEncoderConfig, dict]:
    """Our config and float32 state dict for an in-memory HF model."""
    base, lm_head = split_hf_model(hf_model)
    check_finite_weights(hf_model.named_parameters(), type(hf_model).__name__)
    cfg = config_from_hf(base.config, None if lm_head is None else lm_head.out_features)
    return cfg, convert_hf_weights(base, lm_head, cfg)


def load_hf_directory(directory: str | Path) -> nn.Module:
    """The HF model saved in `directory` (`save_pretrained`: config.json + weights), as the
    class its `architectures` names: a CTC model, or the bare encoder."""
    path = Path(directory)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"No config.json in {str(path)!r}. HookedAudioEncoder.from_pretrained takes a local "
            "directory written by HF `save_pretrained` (nothing is downloaded); for a hub "
            "checkpoint, download it first and pass its folder."
        )
    raw = json.loads(config_file.read_text())
    model_type = raw.get("model_type")
    if model_type not in ("wav2vec2", "hubert"):
        raise ValueError(
            f"{str(config_file)!r} has model_type={model_type!r}; "
            "HookedAudioEncoder loads 'wav2vec2' and 'hubert' checkpoints."
        )
    architectures = raw.get("architectures") or []
    prefix = "Wav2Vec2" if model_type == "wav2vec2" else "Hubert"
    if any(arch.endswith("ForCTC") for arch in architectures):
        name = f"{prefix}ForCTC"
    elif not architectures or all(arch in ENCODER_ONLY for arch in architectures):
        name = f"{prefix}Model"
    else:
        extra = (
            " Its config sets use_weighted_layer_sum=True (a head over every layer's "
            "output), which is not implemented."
            if raw.get("use_weighted_layer_sum")
            else ""
        )
        raise ValueError(
            f"{str(path)!r} holds a {architectures[0]} checkpoint; HookedAudioEncoder runs the "
            f"encoder alone or with a CTC head.{extra} To study its encoder, load the model with "
            f"transformers and pass `from_hf(hf_model.{model_type})`."
        )
    return _classes()[name].from_pretrained(str(path)).eval()
