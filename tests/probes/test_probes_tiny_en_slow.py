"""A real run: tiny.en's encoder, clips of synthesised speech (espeak-ng, with word times) and
clips of noise and silence, speech vs non-speech probed at every block's residual stream on
held-out clips: the probes tell them apart at every layer, well above chance. About 30 s on 2
cores (ten 30 s encoder windows, 16 probe fits), hence `_slow`."""

from __future__ import annotations

import numpy as np

from hooked_audio.activation_store import (
    SPEECH_SENTENCES,
    ActivationStore,
    StoreClip,
    synthesised_clips,
    write_activations,
)
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.probes import speech_labels, train_probes

HOOKS = [f"encoder.blocks.{layer}.hook_resid_post" for layer in range(4)]


def non_speech_clips(n: int) -> list[StoreClip]:
    """White and brown noise at several levels, and near-silence, 2 s each."""
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        white = rng.normal(size=32000)
        noise = np.cumsum(white) / 40 if i % 2 else white
        level = [0.003, 0.03, 0.1][i % 3]
        clip = level * noise / np.abs(noise).max()
        clips.append(StoreClip(f"noise-{i}", clip.astype(np.float32), sample_rate=16000))
    return clips


def test_speech_vs_non_speech_on_tiny_en_is_high_at_every_layer_slow(tiny_en, tmp_path):
    clips = synthesised_clips(list(SPEECH_SENTENCES)) + non_speech_clips(4)
    store = ActivationStore(
        write_activations(
            WhisperEncoderSource(tiny_en, "tiny.en"), clips, HOOKS, tmp_path, progress=False
        )
    )
    labels = speech_labels(store, non_speech_clips=[c for c in store.clips if "noise" in c])
    results = train_probes(store, labels, folds=3, progress=False)
    table = results.table.set_index("layer")
    assert list(table.index) == [0, 1, 2, 3]
    assert (table["balanced_accuracy"] > 0.85).all(), table
    assert (table["balanced_accuracy_low"] > table["chance_balanced"] + 0.2).all(), table
    assert (table["accuracy"] > table["chance_accuracy"]).all(), table
    # the direction at the last layer raises P(speech) on the non-speech frames
    probe, direction = results.probe(3), results.direction(3).numpy()
    x = store.array(HOOKS[3])[labels.values == "non-speech"]
    scale = float(np.linalg.norm(x, axis=1).mean())
    before = probe.predict_proba(x)[:, 1].mean()
    after = probe.predict_proba(x + 0.5 * scale * direction)[:, 1].mean()
    assert after > before + 0.3, (before, after)
