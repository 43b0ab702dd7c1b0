"""Bad input gets a clear error that names the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio import AudioInputError, HookedWhisper
from tests.helpers.whisper_models import random_dims

DIMS = random_dims()  # window: 2 * 16 mel hops of 10 ms = 0.32 s


@pytest.fixture(scope="module")
def model():
    return HookedWhisper(DIMS, seed=0)


def test_audio_longer_than_the_window_is_refused_or_chunked(model):
    audio = np.random.default_rng(0).normal(size=int(16000 * 0.7)).astype(np.float32) * 0.1
    with pytest.raises(AudioInputError, match="chunk=True"):
        model.to_mel(audio, sample_rate=16000)
    mel = model.to_mel(audio, sample_rate=16000, chunk=True)
    assert mel.shape == (3, 80, 32)  # 0.7 s in 0.32 s windows


def test_waveform_without_sample_rate(model):
    with pytest.raises(AudioInputError, match="sample_rate="):
        model.to_mel(np.zeros(1000, dtype=np.float32))


def test_stereo_and_resampling_are_handled(model):
    t = np.arange(int(44100 * 0.3)) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32) * 0.5
    mono16 = np.sin(2 * np.pi * 440 * np.arange(int(16000 * 0.3)) / 16000).astype(np.float32) * 0.5
    a = model.to_mel(stereo, sample_rate=44100)
    b = model.to_mel(mono16, sample_rate=16000)
    assert a.shape == b.shape == (1, 80, 32)
    assert (a - b).abs().mean() < 0.05


def test_nan_audio(model):
    audio = np.zeros(1000, dtype=np.float32)
    audio[10] = np.nan
    with pytest.raises(AudioInputError, match="NaN"):
        model.to_mel(audio, sample_rate=16000)
    mel = torch.zeros(1, 80, 32)
    mel[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(mel, torch.tensor([[1, 2]]))


def test_empty_audio(model):
    with pytest.raises(AudioInputError, match="empty"):
        model.to_mel(np.zeros(0, dtype=np.float32), sample_rate=16000)


def test_wrong_mel_count_names_the_fix(model):
    with pytest.raises(ValueError, match="80 mel bins but got 128.*to_mel"):
        model(torch.zeros(1, 128, 32), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="exactly 32 mel frames"):
        model(torch.zeros(1, 80, 40), torch.tensor([[1, 2]]))


def test_non_tensor_audio_points_to_to_mel(model):
    with pytest.raises(TypeError, match="to_mel"):
        model("speech.wav", torch.tensor([[1, 2]]))


def test_token_errors(model):
    mel = torch.zeros(2, 80, 32)
    with pytest.raises(ValueError, match="batch 2 and token batch 3"):
        model(mel, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="text context of 24"):
        model(mel, torch.zeros(2, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="integer tensor"):
        model(mel, torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"Token ids must lie in \[0, 51864\)"):
        model(mel, torch.full((2, 3), 60000))


def test_unknown_hook_name_suggests_close_names(model):
    mel, tokens = torch.zeros(1, 80, 32), torch.tensor([[1, 2]])
    with pytest.raises(KeyError, match="Did you mean 'encoder.blocks.0.hook_resid_pre'"):
        model.run_with_hooks(
            mel, tokens, fwd_hooks=[("encoder.block.0.hook_resid_pre", lambda x, hook: x)]
        )
    with pytest.raises(KeyError, match="No hook point named 'blocks.0.hook_resid_pre'"):
        model.add_hook("blocks.0.hook_resid_pre", lambda x, hook: x)


def test_wrong_language_for_english_only_model():
    with pytest.raises(ValueError, match="English-only"):
        HookedWhisper(DIMS, language="de")
    with pytest.raises(ValueError, match="Unknown language"):
        HookedWhisper(random_dims(n_vocab=51865), language="klingon")
