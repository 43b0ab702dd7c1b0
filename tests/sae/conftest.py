"""SAE tests need SAELens, which needs transformer-lens<4: they run in the environment of the
sae extra (`pip install -e ".[sae]"`, the second step of the README's test command; `pytest -m
sae`). Where SAELens is not installed this folder's test modules are not collected (the base
environment's run, `pytest -m "not sae"`, has nothing to skip), and the other sae-marked tests
skip by name. Shared here: a store of tiny.en encoder
activations over the bundled clips and a few synthesised sentences, and a small SAE trained on
it with SAELens in seconds."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from hooked_audio.activation_store import (
    SPEECH_SENTENCES,
    ActivationStore,
    StoreClip,
    bundled_clips,
    synthesised_clips,
    write_activations,
)
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.sae import ActivationBatches, train_sae

#: without SAELens there is nothing here to run (the sae step of the README runs it)
collect_ignore_glob = [] if importlib.util.find_spec("sae_lens") else ["test_*.py"]

HOOK = "encoder.blocks.2.hook_resid_post"


@pytest.fixture(scope="session")
def training_clips() -> list[StoreClip]:
    """The bundled clips (pairs and JFK) and six sentences synthesised by espeak-ng."""
    return bundled_clips() + synthesised_clips(SPEECH_SENTENCES)


@pytest.fixture(scope="session")
def encoder_store(tmp_path_factory, tiny_en, training_clips) -> ActivationStore:
    folder = tmp_path_factory.mktemp("sae-store")
    write_activations(
        WhisperEncoderSource(tiny_en, "tiny.en"), training_clips, [HOOK], folder, progress=False
    )
    return ActivationStore(folder)


@pytest.fixture(scope="session")
def trained_sae_folder(tmp_path_factory, encoder_store):
    """A TopK SAE (512 features, k=32) trained with SAELens on the store, saved in SAELens's
    format; what CI trains (about 15 s on 2 cores)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("sae")
    batches = ActivationBatches.from_store(encoder_store, HOOK, batch_size=256)
    train_sae(
        batches,
        HOOK,
        d_sae=512,
        training_samples=50_000,
        architecture="topk",
        k=32,
        lr=2e-3,
        model_name="tiny.en",
        out_dir=folder,
    )
    return folder


@pytest.fixture(scope="session")
def trained_sae(trained_sae_folder):
    from hooked_audio.sae import load_sae

    return load_sae(trained_sae_folder)
