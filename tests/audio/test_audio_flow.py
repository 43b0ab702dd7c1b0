"""Library audio carries its sample rate into `to_mel` / `to_frames`; foreign arrays do not."""

from __future__ import annotations

import pickle
from importlib.resources import files

import numpy as np
import pytest
import torch

from hooked_audio import corruptions as C
from hooked_audio.audio import Audio, AudioInputError, load_audio, load_audio_batch
from hooked_audio.models.whisper.front_end import log_mel
from hooked_audio.pairs import PairSet, bundled_pairs, prosody_pair
from tests.helpers.audio_flow_helpers import SR, jfk, make_pair, window_whisper


@pytest.fixture(scope="module")
def model():
    return window_whisper()


@pytest.fixture(scope="module")
def clip():
    return jfk(2.0)


def explicit_mel(model, audio):
    return model.to_mel(np.asarray(audio), sample_rate=SR)


def test_load_audio_to_frames_without_sample_rate(model):
    path = files("hooked_audio") / "data" / "jfk.flac"
    audio = load_audio(path)
    assert isinstance(audio, Audio) and audio.sample_rate == SR and audio.dtype == np.float32
    expected = model.to_frames(np.asarray(audio), sample_rate=SR)
    assert torch.equal(model.to_frames(audio), expected)
    assert torch.equal(model.to_frames(audio, sample_rate=SR), expected)
    assert torch.equal(model.to_frames(path), expected)


CORRUPTIONS = {
    "silence": lambda x: C.silence(x, (0.5, 1.0)),
    "gain": lambda x: C.gain(x, -6.0),
    "white_noise": lambda x: C.white_noise(x, 10.0, seed=1),
    "pink_noise": lambda x: C.pink_noise(x, 10.0, seed=1, span=(0.2, 0.8)),
    "mask_span": lambda x: C.mask_span(x, (0.2, 0.4), fill="noise"),
    "replace_span": lambda x: C.replace_span(x, (0.2, 0.4), x[::-1].copy()),
    "reverse_span": lambda x: C.reverse_span(x, (0.2, 0.4)),
    "speed": lambda x: C.speed(x, 1.1),
    "speed_same": lambda x: C.speed(x, 1.0),
    "pitch_shift": lambda x: C.pitch_shift(x, 2.0),
    "formant_shift": lambda x: C.formant_shift(x, 1.1),
    "align_pair": lambda x: C.align_pair(x, C.speed(x, 1.05)).warped,
    "align_pair_clean": lambda x: C.align_pair(x, x).clean,
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_each_corruption_output_goes_into_to_mel(model, clip, name):
    out = CORRUPTIONS[name](clip)
    assert isinstance(out, Audio) and out.sample_rate == SR and out.dtype == np.float32
    assert torch.equal(model.to_mel(out), explicit_mel(model, out))


def test_corruptions_accept_plain_arrays_and_return_audio(clip):
    out = C.gain(np.asarray(clip), 3.0)
    assert isinstance(out, Audio) and out.sample_rate == SR


def test_corruption_refuses_audio_at_another_rate(clip):
    clip_44k = load_audio(clip, target_rate=44100)
    with pytest.raises(AudioInputError, match="44100 Hz audio but must be 16 kHz.*load_audio"):
        C.gain(clip_44k, 3.0)


def test_minimal_pair_audio_goes_into_to_frames(model, tmp_path):
    pair = make_pair()
    for audio in (pair.clean_audio, pair.corrupt_audio):
        assert isinstance(audio, Audio) and audio.sample_rate == SR
        expected = model.to_frames(np.asarray(audio), sample_rate=SR)
        assert torch.equal(model.to_frames(audio), expected)
    PairSet([pair]).save(tmp_path)
    loaded = PairSet.load(tmp_path)[0]
    assert isinstance(loaded.clean_audio, Audio)
    assert torch.equal(
        model.to_frames(loaded.clean_audio),
        model.to_frames(np.asarray(loaded.clean_audio), sample_rate=SR),
    )


def test_bundled_pair_goes_into_to_frames(model):
    pair = bundled_pairs()[0]
    expected = model.to_frames(
        [np.asarray(pair.clean_audio), np.asarray(pair.corrupt_audio)], sample_rate=SR
    )
    assert torch.equal(model.to_frames([pair.clean_audio, pair.corrupt_audio]), expected)


def test_built_pair_goes_into_to_frames(model):
    pair = prosody_pair("p", "Please open the window.", pitch=50, other_pitch=70)
    assert isinstance(pair.corrupt_audio, Audio)
    assert torch.equal(
        model.to_frames(pair.corrupt_audio),
        model.to_frames(np.asarray(pair.corrupt_audio), sample_rate=SR),
    )


@pytest.mark.parametrize("wave", [np.zeros(SR, np.float32), torch.zeros(SR)])
def test_foreign_waveform_still_needs_sample_rate(model, wave):
    with pytest.raises(AudioInputError, match="no sample rate; pass sample_rate="):
        model.to_mel(wave)
    with pytest.raises(AudioInputError, match="no sample rate; pass sample_rate="):
        model.to_frames(wave)


def test_explicit_sample_rate_must_match_the_carried_one(model, clip):
    with pytest.raises(AudioInputError, match="sample_rate=44100 conflicts with the 16000 Hz"):
        model.to_mel(clip, sample_rate=44100)
    with pytest.raises(AudioInputError, match="conflicts"):
        load_audio(clip, sample_rate=8000)


def test_audio_at_another_rate_is_resampled(model, clip):
    clip_8k = load_audio(clip, target_rate=8000)
    assert clip_8k.sample_rate == 8000 and len(clip_8k) == len(clip) // 2
    expected = model.to_mel(np.asarray(clip_8k), sample_rate=8000)
    assert torch.equal(model.to_mel(clip_8k), expected)
    batch = load_audio_batch([clip, clip_8k])
    assert [len(x) for x in batch] == [len(clip), len(clip)]


def test_log_mel_refuses_audio_at_another_rate(clip):
    with pytest.raises(AudioInputError, match="8000 Hz audio but the log-mel needs 16000 Hz"):
        log_mel([load_audio(clip, target_rate=8000)], 80)


@pytest.mark.parametrize("layout", ["samples_channels", "channels_samples"])
def test_stereo_arrays(model, clip, layout):
    stereo = np.stack([np.asarray(clip), 0.5 * np.asarray(clip)], axis=1)
    if layout == "channels_samples":
        stereo = stereo.T
    with pytest.raises(AudioInputError, match="pass sample_rate="):
        model.to_mel(stereo)
    mono = 0.75 * np.asarray(clip)
    assert torch.allclose(
        model.to_mel(stereo, sample_rate=SR), model.to_mel(mono, sample_rate=SR), atol=1e-5
    )


def test_empty_nan_and_long_audio_raise(model):
    with pytest.raises(AudioInputError, match="audio is empty"):
        model.to_mel(Audio(np.zeros(0, np.float32), SR))
    with pytest.raises(AudioInputError, match="2 NaN or inf samples"):
        model.to_mel(Audio(np.array([0.1, np.nan, np.inf], np.float32), SR))
    long = Audio(np.zeros(31 * SR, np.float32), SR)
    with pytest.raises(AudioInputError, match="over Whisper's 30 s window.*chunk=True"):
        model.to_mel(long)
    assert model.to_mel(long, chunk=True).shape[0] == 2


def test_audio_keeps_its_rate_on_the_same_time_axis(clip):
    assert clip[100:200].sample_rate == SR and clip[::-1].sample_rate == SR
    assert (clip * 0.5).sample_rate == SR and (clip + np.asarray(clip)).sample_rate == SR
    assert np.tanh(clip).sample_rate == SR and clip.copy().sample_rate == SR
    assert np.concatenate([clip, np.zeros(10, np.float32)]).sample_rate == SR
    assert np.pad(clip, 5).sample_rate == SR and np.clip(clip, -0.1, 0.1).sample_rate == SR
    inplace = clip.copy()
    inplace *= 2.0
    assert isinstance(inplace, Audio) and inplace.sample_rate == SR
    restored = pickle.loads(pickle.dumps(clip))
    assert isinstance(restored, Audio) and restored.sample_rate == SR
    np.testing.assert_array_equal(restored, clip)
    assert len(clip) == clip.size and torch.equal(
        torch.from_numpy(clip), torch.as_tensor(np.asarray(clip))
    )


def test_audio_drops_its_rate_off_the_time_axis(model, clip):
    for other in (
        clip[::2],
        clip[[1, 2, 3]],
        clip[clip > 0],
        clip[None],
        clip > 0,
        clip.reshape(-1, 2),
        np.fft.rfft(clip),
        np.stack([clip, clip]),
        np.asarray(clip),
        clip.repeat(2),
    ):
        assert type(other) is np.ndarray
    assert not isinstance(clip.mean(), Audio)
    with pytest.raises(AudioInputError, match="no sample rate"):
        model.to_mel(clip[::2])


def test_mixing_rates_raises(clip):
    clip_8k = Audio(np.zeros(len(clip), np.float32), 8000)
    with pytest.raises(AudioInputError, match="8000 Hz and 16000 Hz"):
        clip + clip_8k
    with pytest.raises(AudioInputError, match="8000 Hz and 16000 Hz"):
        np.concatenate([clip, clip_8k])


@pytest.mark.parametrize(
    "samples, rate, match",
    [
        (np.zeros((10, 2), np.float32), SR, "1-D float"),
        (np.zeros(10, np.int16), SR, "1-D float"),
        (torch.zeros(10), SR, "numpy array"),
        (np.zeros(10, np.float32), 0, "sample_rate must be a positive int"),
    ],
)
def test_audio_constructor_refuses_bad_input(samples, rate, match):
    with pytest.raises(AudioInputError, match=match):
        Audio(samples, rate)
