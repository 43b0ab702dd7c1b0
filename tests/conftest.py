"""Shared fixtures: tiny random configs, the real packaged tiny.en, the bundled clip."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from hooked_audio.audio import load_audio
from hooked_audio.models.whisper import HookedWhisper

JFK_TEXT = "ask not what your country can do for you"


def random_dims(**overrides) -> ModelDimensions:
    dims = dict(n_mels=80, n_audio_ctx=16, n_audio_state=64, n_audio_head=4, n_audio_layer=2,
                n_vocab=51864, n_text_ctx=24, n_text_state=64, n_text_head=4, n_text_layer=2)
    dims.update(overrides)
    return ModelDimensions(**dims)


def random_reference(dims: ModelDimensions, seed: int = 0, std: float = 0.1) -> Whisper:
    """An openai-whisper model with random weights large enough to make every term matter."""
    torch.manual_seed(seed)
    ref = Whisper(dims).eval()
    with torch.no_grad():
        for name, param in ref.named_parameters():
            param.normal_(1.0 if name.endswith("ln.weight") or "_ln." in name else 0.0, std)
    return ref


def reference_residuals(ref: Whisper, mel: torch.Tensor, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """openai-whisper's logits and per-block outputs (keyed by our `hook_resid_post` names),
    captured with plain torch forward hooks."""
    out, handles = {}, []
    for stack in ("encoder", "decoder"):
        for i, block in enumerate(getattr(ref, stack).blocks):
            handles.append(block.register_forward_hook(
                lambda m, a, o, key=f"{stack}.blocks.{i}.hook_resid_post": out.__setitem__(key, o)))
    try:
        with torch.no_grad():
            out["logits"] = ref(mel, tokens)
    finally:
        for h in handles:
            h.remove()
    return out


@pytest.fixture(scope="session")
def jfk_audio() -> np.ndarray:
    return load_audio(files("hooked_audio") / "data" / "jfk.flac")


@pytest.fixture(scope="session")
def tiny_en_checkpoint():
    from hooked_audio.models.whisper.pretrained import resolve_checkpoint

    return resolve_checkpoint("tiny.en")


@pytest.fixture(scope="session")
def tiny_en(tiny_en_checkpoint) -> HookedWhisper:
    ckpt = tiny_en_checkpoint
    return HookedWhisper.from_openai_state_dict(ckpt.dims, ckpt.state_dict, ckpt.alignment_heads)


@pytest.fixture(scope="session")
def tiny_en_reference(tiny_en_checkpoint) -> Whisper:
    """openai-whisper's own model with the same weights and alignment heads."""
    ckpt = tiny_en_checkpoint
    ref = Whisper(ckpt.dims)
    ref.load_state_dict({k: v.float() for k, v in ckpt.state_dict.items()})
    heads = torch.zeros(ckpt.dims.n_text_layer, ckpt.dims.n_text_head, dtype=torch.bool)
    for layer, head in ckpt.alignment_heads:
        heads[layer, head] = True
    ref.register_buffer("alignment_heads", heads.to_sparse(), persistent=False)
    return ref.eval()


@pytest.fixture(scope="session")
def jfk_mel(tiny_en, jfk_audio) -> torch.Tensor:
    return tiny_en.to_mel(jfk_audio, sample_rate=whisper.audio.SAMPLE_RATE)
