"""Shared fixtures: the real packaged tiny.en, its openai-whisper twin, the bundled clip.
Helpers that tests import live in `tests/helpers/` (`whisper_models`, ...).

Two rules of the suite live here too (`tests/helpers/skip_policy.py`): a test whose name ends in
`_slow` is marked `slow` (the fast lane is `pytest -m "not slow and not sae"`), and under
`CI=true` a skipped test fails the run unless `tests/QUARANTINES.md` lists it with a reason."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest
import torch
import whisper
from whisper.model import Whisper

from hooked_audio.audio import load_audio
from hooked_audio.models.whisper import HookedWhisper

#: the suite's rules on slow tests and skips, as a plugin (its hooks)
pytest_plugins = ["tests.helpers.skip_policy"]


@pytest.fixture(autouse=True, scope="session")
def no_installs_by_transformer_lens():
    """TransformerLens 4.3's loader pip-installs torchvision when a multimodal checkpoint's
    processor does not load (`_ensure_torchvision`), and that install replaces the CPU torch
    with a CUDA build in the middle of the run. A test that triggers it fails instead."""
    try:
        from transformer_lens.model_bridge.sources.transformers import helpers
    except ImportError:  # transformer-lens 3.9 (the SAE step) installs inline; it boots none
        yield
        return

    def refuse() -> bool:
        raise AssertionError(
            "TransformerLens tried to pip-install torchvision: the checkpoint's processor did "
            "not load; save one beside the model (see tests/helpers/audio_lm_processor.py)."
        )

    original = helpers._ensure_torchvision
    helpers._ensure_torchvision = refuse
    yield
    helpers._ensure_torchvision = original


@pytest.fixture(scope="session")
def jfk_audio() -> np.ndarray:
    return load_audio(files("hooked_audio") / "data" / "jfk.flac")


@pytest.fixture(scope="session")
def tiny_en_checkpoint():
    from hooked_audio.models.whisper.loading.pretrained import resolve_checkpoint

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
