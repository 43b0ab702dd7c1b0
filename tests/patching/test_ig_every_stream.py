"""Integrated gradients on every family's stream views (the audio-LM's audio tower and language
model, the audio-encoder family): completeness, the one invariant that needs no reference.
With one cell holding every position, the estimate converges to the exact patch of the whole
layer (`layer_sweep`) as the path is refined, on the layer path and, at the first layer, on
the input path."""

from __future__ import annotations

import pytest
import torch

from hooked_audio.audio import mel_to_frames
from hooked_audio.models.audio_encoder import HookedAudioEncoder
from hooked_audio.patching import integrated_gradients, layer_sweep
from tests.helpers.audio_encoder_models import random_hf, waveforms
from tests.helpers.audio_lm_models import AUDIO_TOKEN, hooked, qwen2_audio_hf, qwen2_audio_inputs


def lm_metric(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1, 7] - logits[:, -1, 11]).mean()


def ctc_metric(logits: torch.Tensor) -> torch.Tensor:
    logprobs = logits.log_softmax(-1)
    return (logprobs[..., 3] - logprobs[..., 5]).mean()


def audio_lm_views():
    model = hooked(qwen2_audio_hf(seed=5))
    clean = qwen2_audio_inputs([80], [7], seed=1)
    corrupt_features = qwen2_audio_inputs([80], [7], seed=2)["input_features"]
    audio = model.audio_stream(
        clean["input_ids"], feature_attention_mask=clean["feature_attention_mask"]
    )
    corrupt_ids = clean["input_ids"].clone()
    corrupt_ids[0, -1] = (corrupt_ids[0, -1] + 1) % AUDIO_TOKEN
    text = model.lm_stream(
        input_features=clean["input_features"],
        feature_attention_mask=clean["feature_attention_mask"],
    )
    return [
        (
            "audio-LM audio tower",
            audio,
            mel_to_frames(clean["input_features"]),
            mel_to_frames(corrupt_features),
            lm_metric,
        ),
        ("audio-LM language model", text, clean["input_ids"], corrupt_ids, lm_metric),
    ]


def audio_encoder_view():
    model = HookedAudioEncoder.from_hf(random_hf("wav2vec2", True, False, "group", seed=21))
    clean, corrupt = waveforms(seed=22)
    return [
        (
            "audio encoder (wav2vec2 CTC)",
            model.encoder_stream(),
            model.to_frames(clean),
            model.to_frames(corrupt),
            ctc_metric,
        )
    ]


@pytest.mark.parametrize("case", [0, 1, 2], ids=["lm-audio", "lm-text", "audio-encoder"])
def test_completeness_on_every_family(case):
    name, view, clean, corrupt, metric = (audio_lm_views() + audio_encoder_view())[case]
    everything = [list(range(clean.shape[-1]))]
    exact = layer_sweep(view, clean, corrupt, metric, cells=everything, progress=False)
    moved = (exact.values - exact.corrupt_value).abs()
    assert moved.min() > 1e-4, name  # every layer's patch moves the metric
    errors = {}
    for steps in (2, 32):
        estimate = integrated_gradients(
            view, clean, corrupt, metric, cells=everything, steps=steps, progress=False
        )
        errors[steps] = (estimate.values - exact.values).abs().max().item()
    assert errors[32] < 0.02 * moved.max().item() + 1e-6, (name, errors)
    assert errors[32] <= errors[2], (name, errors)
    first = integrated_gradients(
        view, clean, corrupt, metric, cells=everything, steps=32, progress=False, path="input"
    )
    assert (first.values[0] - exact.values[0]).abs().item() < 0.02 * moved.max().item() + 1e-6
