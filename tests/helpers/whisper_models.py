"""Helpers for Whisper tests: tiny random configs, openai-whisper references with weights
large enough to make every term matter, reference residuals."""

from __future__ import annotations

import torch
from whisper.model import ModelDimensions, Whisper

JFK_TEXT = "ask not what your country can do for you"


def random_dims(**overrides) -> ModelDimensions:
    dims = dict(
        n_mels=80,
        n_audio_ctx=16,
        n_audio_state=64,
        n_audio_head=4,
        n_audio_layer=2,
        n_vocab=51864,
        n_text_ctx=24,
        n_text_state=64,
        n_text_head=4,
        n_text_layer=2,
    )
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


def reference_residuals(
    ref: Whisper, mel: torch.Tensor, tokens: torch.Tensor
) -> dict[str, torch.Tensor]:
    """openai-whisper's logits and per-block outputs (keyed by our `hook_resid_post` names),
    captured with plain torch forward hooks."""
    out, handles = {}, []
    for stack in ("encoder", "decoder"):
        for i, block in enumerate(getattr(ref, stack).blocks):
            handles.append(
                block.register_forward_hook(
                    lambda m, a, o, key=f"{stack}.blocks.{i}.hook_resid_post": out.__setitem__(
                        key, o
                    )
                )
            )
    try:
        with torch.no_grad():
            out["logits"] = ref(mel, tokens)
    finally:
        for h in handles:
            h.remove()
    return out
