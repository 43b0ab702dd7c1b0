"""Training with SAELens on tiny.en encoder activations (what CI trains, in seconds): the SAE
reconstructs its hook, is sparse, and the model loses little when it runs on the
reconstruction; activations streamed from clips are the store's rows; SAELens's format
round-trips through load_sae."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sae_lens", reason="SAE tests need SAELens: pip install -e '.[sae]'")

import torch

from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.models.whisper.transcript_loss import TranscriptLoss
from hooked_audio.sae import (
    ActivationBatches,
    load_sae,
    reconstruction_stats,
    spliced_loss,
    train_sae,
    training_config,
)

from .conftest import HOOK

pytestmark = pytest.mark.sae


def test_trained_sae_reconstructs_sparsely_and_costs_little_loss(
    tiny_en, encoder_store, trained_sae, training_clips
):
    stats = reconstruction_stats(
        trained_sae, ActivationBatches.from_store(encoder_store, HOOK, 1024, seed=7), 4
    )
    assert stats.explained_variance > 0.65
    loss = TranscriptLoss(tiny_en, training_clips[:4])
    result = spliced_loss(tiny_en, trained_sae, loss)
    assert result.clean < result.spliced < result.zero_ablated
    assert result.recovered > 0.6
    assert not tiny_en.acts_to_saes
    print(stats, result)


def test_reconstruction_stats_are_what_the_sae_does_on_those_rows(encoder_store, trained_sae):
    """The statistics, recomputed here in float64 from the same rows (the same seeded batches)
    in one piece: L0, the dead share and the explained variance."""
    stats = reconstruction_stats(
        trained_sae, ActivationBatches.from_store(encoder_store, HOOK, 1024, seed=7), 4
    )
    batches = ActivationBatches.from_store(encoder_store, HOOK, 1024, seed=7)
    x = torch.cat([next(batches) for _ in range(4)]).float()
    with torch.no_grad():
        feats = trained_sae.encode(x)
        x_hat = trained_sae.decode(feats).float()
    active = (feats != 0).numpy()
    x64, x_hat64 = x.double().numpy(), x_hat.double().numpy()
    explained = 1 - ((x64 - x_hat64) ** 2).sum() / ((x64 - x64.mean(0)) ** 2).sum()
    assert stats.rows == len(x) == 4096
    assert stats.l0 == pytest.approx(active.sum(1).mean(), rel=1e-9)
    assert stats.dead_fraction == pytest.approx(1 - active.any(0).mean(), abs=1e-12)
    assert stats.explained_variance == pytest.approx(explained, rel=1e-4)


def test_saved_folder_is_saelens_format_and_loads_back(trained_sae_folder, trained_sae, tiny_en):
    config = json.loads((trained_sae_folder / "cfg.json").read_text())
    assert config["architecture"] == "topk" and config["d_in"] == 384
    assert config["metadata"]["hook_name"] == HOOK
    assert config["metadata"]["model_name"] == "tiny.en"
    from sae_lens import SAE

    theirs = SAE.load_from_disk(trained_sae_folder)
    x = torch.randn(5, 384)
    torch.testing.assert_close(load_sae(trained_sae_folder, tiny_en).encode(x), theirs.encode(x))
    with pytest.raises(ValueError, match="no hook point"):
        load_sae(trained_sae_folder, tiny_en, hook_name="encoder.blocks.7.hook_resid_post")
    with pytest.raises(FileNotFoundError, match="SAELens's format"):
        load_sae(trained_sae_folder / "missing")


def test_streamed_batches_hold_the_store_rows(tiny_en, encoder_store, training_clips):
    clips = training_clips[:3]
    expected = encoder_store.array(HOOK, [c.id for c in clips])
    batches = ActivationBatches.from_clips(
        WhisperEncoderSource(tiny_en), clips, HOOK, batch_size=len(expected), buffer_rows=4096
    )
    rows = next(batches).numpy()
    assert batches.d_in == 384 and rows.shape == expected.shape
    order = np.lexsort(expected.T[:4])
    np.testing.assert_allclose(rows[np.lexsort(rows.T[:4])], expected[order], atol=1e-5)
    assert not np.array_equal(rows, expected)  # shuffled


def test_store_batches_run_on_over_epochs_with_whole_batches(encoder_store):
    n_rows = len(encoder_store.frame(HOOK))
    batches = ActivationBatches.from_store(encoder_store, HOOK, batch_size=1000)
    seen = [next(batches) for _ in range(n_rows // 1000 + 2)]
    assert all(b.shape == (1000, 384) for b in seen) and batches.epoch >= 1


def test_bad_training_arguments_are_refused(encoder_store, tiny_en):
    batches = ActivationBatches.from_store(encoder_store, HOOK, batch_size=256)
    with pytest.raises(ValueError, match="no training architecture 'sparse'"):
        training_config("sparse", 384, 64)
    with pytest.raises(ValueError, match="has no option \\['kk'\\]"):
        training_config("topk", 384, 64, kk=3)
    with pytest.raises(ValueError, match="less than one batch"):
        train_sae(batches, HOOK, d_sae=64, training_samples=100)
    with pytest.raises(TypeError, match="one-pass iterator"):
        ActivationBatches.from_clips(WhisperEncoderSource(tiny_en), iter([]), HOOK)
