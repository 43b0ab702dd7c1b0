"""One loader for every model family: `load_model(name_or_path)` picks the family from what
the path holds, so a command's `--model` takes any checkpoint the library reads; and
`model_family(model)`, the application-layer view of a loaded model
(`hooked_audio.models.family.ModelFamily`). The families import `models/family.py`; this module
imports the families.

- a folder with a HF `config.json`: its `model_type` names the family (`whisper`;
  `wav2vec2` / `hubert`; an audio LM such as `qwen2_audio` or `voxtral`);
- anything else (an openai-whisper name, a `.pt`, a CTranslate2 folder or `model.bin`):
  Whisper, through `HookedWhisper.from_pretrained` and its resolution order.
A HF folder of another model type is refused by name, with the types that load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hooked_audio.models.family import FamilyBase, ModelFamily

#: HF `model_type`s of the encoder family (`HookedAudioEncoder`)
AUDIO_ENCODER_TYPES = ("wav2vec2", "hubert")


def hf_model_type(path: Path) -> Any:
    """The `model_type` of a HF checkpoint folder; None when `path` is not one or its config
    names none (Whisper's loaders then say what they found)."""
    config = path / "config.json"
    if not (path.is_dir() and config.is_file()):
        return None
    try:
        raw = json.loads(config.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{str(config)!r} is not a JSON config: {error}.") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{str(config)!r} is not a JSON object of config fields.")
    return raw.get("model_type")


def load_model(name_or_path: str | os.PathLike) -> Any:
    """The hooked model of any family for a name or checkpoint path (see the module
    docstring), on the CPU in float32 (move it with `.to(...)`)."""
    path = Path(name_or_path).expanduser()
    model_type = hf_model_type(path)
    if model_type in AUDIO_ENCODER_TYPES:
        from hooked_audio.models.audio_encoder import HookedAudioEncoder

        return HookedAudioEncoder.from_pretrained(path)
    if model_type is None or model_type == "whisper":
        from hooked_audio.models.whisper import HookedWhisper

        return HookedWhisper.from_pretrained(str(name_or_path))
    from hooked_audio.models.audio_lm.architectures import ARCHITECTURES

    if model_type in ARCHITECTURES:
        from hooked_audio.models.audio_lm import HookedAudioLM

        return HookedAudioLM.from_pretrained(str(path))
    raise ValueError(
        f"{str(path)!r} holds a HF {model_type!r} model; the library loads whisper, "
        f"{', '.join(AUDIO_ENCODER_TYPES)} and the audio LMs {', '.join(ARCHITECTURES)}."
    )


def model_family(model: Any) -> ModelFamily:
    """The application-layer view of `model` (a `HookedWhisper`, a `HookedAudioEncoder` with
    a CTC head and its tokenizer, or a `HookedAudioLM` with its processor); a `ModelFamily` is
    returned as it is. Anything else is refused by name."""
    if isinstance(model, FamilyBase):
        return model
    from hooked_audio.models.audio_encoder.model import HookedAudioEncoder
    from hooked_audio.models.audio_lm.model import HookedAudioLM
    from hooked_audio.models.whisper.model import HookedWhisper

    if isinstance(model, HookedWhisper):
        from hooked_audio.models.whisper.family import WhisperFamily

        return WhisperFamily(model)
    if isinstance(model, HookedAudioEncoder):
        from hooked_audio.models.audio_encoder.family import AudioEncoderFamily

        return AudioEncoderFamily(model)
    if isinstance(model, HookedAudioLM):
        from hooked_audio.models.audio_lm.family import AudioLMFamily

        return AudioLMFamily(model)
    raise TypeError(
        "Studies and reports serve HookedWhisper, HookedAudioEncoder (CTC) and HookedAudioLM "
        f"models; got {type(model).__name__}. Wrap another model in a class that implements "
        "hooked_audio.models.family.ModelFamily (docs/adding_a_model.md)."
    )
