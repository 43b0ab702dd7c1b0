"""openai-whisper's own checkpoints: a local `.pt`, or an official model by name.

By name we go through whisper's own `_MODELS` table and `_download` (SHA-256 checked, cached in
`~/.cache/whisper`), so a model downloaded once by openai-whisper is reused here and vice versa.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import os
import urllib.error
from pathlib import Path

import numpy as np
import torch
import whisper
from whisper.model import ModelDimensions

from hooked_audio.models.whisper.loading.checkpoint import (
    WhisperCheckpoint,
    as_float32,
    check_alignment_heads,
)


def decode_alignment_heads(
    dump: bytes | str, n_text_layer: int, n_text_head: int
) -> list[tuple[int, int]]:
    """openai-whisper's base85 + gzip boolean [n_text_layer, n_text_head] mask (the values of
    `whisper._ALIGNMENT_HEADS`, as read by `Whisper.set_alignment_heads`) as (layer, head) pairs."""
    raw = dump.encode() if isinstance(dump, str) else dump
    mask = np.frombuffer(gzip.decompress(base64.b85decode(raw)), dtype=bool)
    if mask.size != n_text_layer * n_text_head:
        raise ValueError(
            f"Alignment-head mask has {mask.size} entries, expected {n_text_layer} x {n_text_head}."
        )
    layers, heads = np.nonzero(mask.reshape(n_text_layer, n_text_head))
    return [(int(layer), int(head)) for layer, head in zip(layers, heads)]


def _dims(saved: object, path: Path) -> ModelDimensions:
    """openai-whisper's `ModelDimensions` from a checkpoint's `dims`, refusing unknown or
    missing fields (an unknown one is an architecture option this model does not implement)."""
    expected = [f.name for f in dataclasses.fields(ModelDimensions)]
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: 'dims' is a {type(saved).__name__}, not a dict of {expected}.")
    unknown = sorted(set(saved) - set(expected))
    missing = [name for name in expected if name not in saved]
    if unknown or missing:
        raise ValueError(
            f"{path}: 'dims' does not match openai-whisper's ModelDimensions "
            f"(unknown: {unknown or 'none'}; missing: {missing or 'none'}). A field this model "
            "does not know is an architecture option it does not implement."
        )
    bad = {name: saved[name] for name in expected if type(saved[name]) is not int}
    if bad or any(saved[name] <= 0 for name in expected):
        raise ValueError(f"{path}: 'dims' must hold positive whole numbers; found {saved}.")
    return ModelDimensions(**saved)


def load_openai_checkpoint(
    path: str | os.PathLike[str],
    alignment_heads: list[tuple[int, int]] | None = None,
) -> WhisperCheckpoint:
    """A `.pt` as openai-whisper saves it: `{"dims": {...}, "model_state_dict": {...}}`.

    The file does not record alignment heads; pass them if known (else they stay None).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"openai-whisper checkpoint not found: {path}")
    try:
        # weights_only: a checkpoint is data; never run pickled code from it.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for "not a torch file"
        raise ValueError(f"{path} is not a PyTorch checkpoint torch.load can read: {err}") from err
    if not isinstance(ckpt, dict) or not {"dims", "model_state_dict"} <= ckpt.keys():
        found = sorted(ckpt.keys()) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path} is not an openai-whisper checkpoint: expected the keys 'dims' "
            f"and 'model_state_dict', found {found}."
        )
    dims = _dims(ckpt["dims"], path)
    if alignment_heads is not None:
        alignment_heads = check_alignment_heads(
            alignment_heads, dims.n_text_layer, dims.n_text_head, str(path)
        )
    return WhisperCheckpoint(
        dims, as_float32(ckpt["model_state_dict"]), alignment_heads, f"openai:{path}"
    )


def _default_download_root() -> str:
    # Same default as `whisper.load_model`.
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.getenv("XDG_CACHE_HOME", default), "whisper")


def load_openai_by_name(name: str, download_root: str | None = None) -> WhisperCheckpoint:
    """An official model ("tiny.en", "base", "large-v3", ...) from whisper's cache, downloading
    it there if needed, with its official alignment heads."""
    if name not in whisper._MODELS:
        raise ValueError(
            f"Unknown openai-whisper model {name!r}; available models: "
            f"{', '.join(whisper.available_models())}."
        )
    root = download_root or _default_download_root()
    url = whisper._MODELS[name]
    try:
        path = whisper._download(url, root, in_memory=False)
    except urllib.error.URLError as err:
        raise RuntimeError(
            f"{name} is not in {root} and could not be downloaded from {url}: {err}"
        ) from err
    ckpt = load_openai_checkpoint(path)
    ckpt.alignment_heads = decode_alignment_heads(
        whisper._ALIGNMENT_HEADS[name], ckpt.dims.n_text_layer, ckpt.dims.n_text_head
    )
    ckpt.source = f"openai:{name}"
    return ckpt
