"""Fast CPU tests for hooked_audio.audio."""

from __future__ import annotations

import warnings
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import whisper.audio as wa

from hooked_audio.audio import (
    AudioInputError,
    frames_to_mel,
    load_audio,
    load_audio_batch,
    mel_to_frames,
)
from hooked_audio.models.whisper.front_end import MelBatch, log_mel, log_mel_chunks

JFK = Path(str(files("hooked_audio") / "data" / "jfk.flac"))


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return load_audio(JFK)


@pytest.fixture(scope="module")
def jfk_raw() -> np.ndarray:
    data, rate = sf.read(JFK, dtype="float32", always_2d=True)
    assert rate == 44100 and data.shape[1] == 2
    return data


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --- load_audio -------------------------------------------------------------


def test_jfk_loads_as_16k_mono(jfk):
    assert jfk.dtype == np.float32 and jfk.ndim == 1
    assert abs(jfk.shape[0] - 176000) <= 2
    assert np.abs(jfk).max() <= 1.0


def test_pathlike_and_str_agree(jfk):
    np.testing.assert_array_equal(load_audio(str(JFK)), jfk)


@pytest.mark.parametrize("layout", ["n_ch", "ch_n"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_array_equals_path(jfk, jfk_raw, layout, kind):
    x = jfk_raw if layout == "n_ch" else np.ascontiguousarray(jfk_raw.T)
    if kind == "torch":
        x = torch.from_numpy(x)
    np.testing.assert_array_equal(load_audio(x, sample_rate=44100), jfk)


def test_resampled_sine_keeps_frequency_and_rms():
    y = load_audio(sine(1000.0, 44100, 2.0), sample_rate=44100)
    assert abs(y.shape[0] - 32000) <= 1
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(y.shape[0], 1 / 16000)
    bin_width = freqs[1]
    assert abs(freqs[np.argmax(spectrum)] - 1000.0) <= bin_width
    core = y[1000:-1000]  # ignore resampler edge transients
    rms = np.sqrt(np.mean(core.astype(np.float64) ** 2))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_int16_equals_scaled_float():
    x = (sine(440.0, 16000, 0.5, amp=0.9) * 32767).astype(np.int16)
    expected = load_audio(x.astype(np.float32) / 32768, sample_rate=16000)
    np.testing.assert_array_equal(load_audio(x, sample_rate=16000), expected)
    np.testing.assert_array_equal(load_audio(torch.from_numpy(x), sample_rate=16000), expected)


def test_int32_scaled():
    x = np.array([0, 2**30, -(2**31)], dtype=np.int32)
    np.testing.assert_allclose(load_audio(x, sample_rate=16000), [0.0, 0.5, -1.0])


def test_stereo_with_silent_channel_is_half_amplitude():
    left = sine(440.0, 16000, 0.5)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    np.testing.assert_allclose(load_audio(stereo, sample_rate=16000), left / 2, atol=1e-7)
    np.testing.assert_allclose(load_audio(stereo.T, sample_rate=16000), left / 2, atol=1e-7)


def test_no_resample_at_target_rate_is_identity():
    x = sine(440.0, 16000, 0.1)
    np.testing.assert_array_equal(load_audio(x, sample_rate=16000), x)


def test_unnormalised_float_warns():
    x = sine(440.0, 16000, 0.1) * 32768
    with pytest.warns(UserWarning, match=r"peak amplitude .* > 1\.0"):
        load_audio(x, sample_rate=16000)


def test_normal_audio_does_not_warn(jfk_raw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(jfk_raw, sample_rate=44100)


# --- load_audio errors ------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioInputError, match=r"nope\.wav.*does not exist"):
        load_audio(path)


def test_a_url_is_named(tmp_path):
    with pytest.raises(AudioInputError, match=r"is a URL.*Download it first"):
        load_audio("https://example.org/clip.wav")


def test_a_wav_header_declaring_a_tenth_of_its_data_is_refused(jfk, tmp_path):
    """A recorder cut off before it finalised the header leaves a data size far below the
    data that follows; read as declared, the clip would silently be a tenth of itself."""
    path = tmp_path / "cut.wav"
    sf.write(path, jfk, 16000, subtype="PCM_16")
    assert len(load_audio(path)) == len(jfk)  # as written, it loads whole
    raw = bytearray(path.read_bytes())
    at = raw.index(b"data") + 4
    raw[at : at + 4] = (len(jfk) * 2 // 10).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    assert sf.info(path).frames == len(jfk) // 10  # what soundfile alone would read
    with pytest.raises(
        AudioInputError,
        match=r"declares 1\.10 s of audio, but the file holds "
        r"about 11\.0\d s.*sox --ignore-length",
    ):
        load_audio(path)


def test_directory(tmp_path):
    with pytest.raises(AudioInputError, match="is a directory"):
        load_audio(tmp_path)


def test_unreadable_format(tmp_path):
    path = tmp_path / "clip.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A not really audio")
    with pytest.raises(AudioInputError, match=r"clip\.m4a.*FLAC.*ffmpeg"):
        load_audio(path)


def test_file_sample_rate_conflict():
    with pytest.raises(AudioInputError, match=r"conflicts with the 44100 Hz.*target_rate="):
        load_audio(JFK, sample_rate=16000)


def test_array_without_sample_rate():
    with pytest.raises(AudioInputError, match="pass sample_rate="):
        load_audio(np.zeros(100, dtype=np.float32))
    with pytest.raises(AudioInputError, match="pass sample_rate="):
        load_audio(torch.zeros(100))


@pytest.mark.parametrize("rate", [0, -16000, 16000.0, "16000", True])
def test_bad_sample_rate(rate):
    with pytest.raises(AudioInputError, match="sample_rate must be a positive int"):
        load_audio(np.zeros(100, dtype=np.float32), sample_rate=rate)


def test_bad_target_rate():
    with pytest.raises(AudioInputError, match="target_rate must be a positive int"):
        load_audio(np.zeros(100, dtype=np.float32), sample_rate=16000, target_rate=0)


@pytest.mark.parametrize(
    "x", [np.zeros(0, np.float32), np.zeros((0, 2), np.float32), torch.zeros(2, 0)]
)
def test_empty(x):
    with pytest.raises(AudioInputError, match="audio is empty"):
        load_audio(x, sample_rate=16000)


def test_nan_and_inf():
    x = np.zeros(100, dtype=np.float32)
    x[[3, 7]] = np.nan
    x[9] = np.inf
    with pytest.raises(AudioInputError, match="contains 3 NaN or inf samples out of 100"):
        load_audio(x, sample_rate=16000)


@pytest.mark.parametrize(
    "x",
    [
        np.zeros(10, dtype=bool),
        np.zeros(10, dtype=np.complex64),
        np.zeros(10, dtype=np.int64),
        np.array(["a"] * 10),
        torch.zeros(10, dtype=torch.int64),
    ],
)
def test_bad_dtype(x):
    with pytest.raises(AudioInputError, match="dtype .* is (not supported|complex)"):
        load_audio(x, sample_rate=16000)


def test_three_dims():
    with pytest.raises(AudioInputError, match=r"3 dimensions.*load_audio_batch"):
        load_audio(np.zeros((1, 2, 100), dtype=np.float32), sample_rate=16000)


def test_2d_without_channel_axis():
    with pytest.raises(AudioInputError, match="no channel axis of size <= 8"):
        load_audio(np.zeros((16, 1000), dtype=np.float32), sample_rate=16000)


def test_unsupported_type():
    with pytest.raises(AudioInputError, match="unsupported audio type list.*load_audio_batch"):
        load_audio([0.0, 0.1], sample_rate=16000)


# --- load_audio_batch -------------------------------------------------------


def test_batch(jfk, jfk_raw):
    out = load_audio_batch([JFK, jfk_raw], sample_rate=[None, 44100])
    assert len(out) == 2
    np.testing.assert_array_equal(out[0], jfk)
    np.testing.assert_array_equal(out[1], jfk)
    single = load_audio_batch(JFK)
    assert len(single) == 1
    np.testing.assert_array_equal(single[0], jfk)
    # a 2-D array is one (stereo) clip, not a batch
    assert len(load_audio_batch(jfk_raw, sample_rate=44100)) == 1


def test_batch_errors(jfk_raw):
    with pytest.raises(AudioInputError, match="batch is empty"):
        load_audio_batch([])
    with pytest.raises(AudioInputError, match="batch item 1: .*pass sample_rate="):
        load_audio_batch([JFK, jfk_raw])
    with pytest.raises(AudioInputError, match="2 sample rates for 1 clips"):
        load_audio_batch([jfk_raw], sample_rate=[44100, 44100])


# --- log_mel ----------------------------------------------------------------


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_matches_whisper(jfk, n_mels):
    """Bit for bit openai-whisper's front end (what `log_mel` calls), and within 1e-6 of HF
    transformers' `WhisperFeatureExtractor`, an implementation of its own (numpy STFT, its own
    mel filters): a reference the wrapper does not call."""
    from transformers import WhisperFeatureExtractor

    mel = log_mel([jfk], n_mels)
    assert mel.shape == (1, n_mels, 3000) and mel.dtype == torch.float32
    expected = wa.log_mel_spectrogram(wa.pad_or_trim(jfk), n_mels)
    torch.testing.assert_close(mel[0], expected, rtol=0, atol=0)
    extractor = WhisperFeatureExtractor(feature_size=n_mels)
    theirs = extractor(np.asarray(jfk), sampling_rate=16000, return_tensors="np").input_features
    np.testing.assert_allclose(mel[0].numpy(), theirs[0], rtol=0, atol=1e-6)


def test_log_mel_batch_items_independent(jfk):
    quiet = jfk[:16000] * 0.01
    mel = log_mel([jfk, quiet], 80)
    torch.testing.assert_close(mel[1], log_mel([quiet], 80)[0], rtol=0, atol=0)
    torch.testing.assert_close(mel[0], log_mel(jfk, 80)[0], rtol=0, atol=0)  # single 1-D ok


def test_log_mel_bad_n_mels(jfk):
    with pytest.raises(AudioInputError, match=r"n_mels must be 80 .* or 128 .*got 64"):
        log_mel([jfk], 64)


def test_log_mel_bad_inputs(jfk):
    with pytest.raises(AudioInputError, match="non-empty list"):
        log_mel([], 80)
    with pytest.raises(AudioInputError, match=r"waveform 0 .* load_audio"):
        log_mel([np.zeros((2, 100), np.float32)], 80)
    with pytest.raises(AudioInputError, match="positive multiple of 160"):
        log_mel([jfk], 80, n_samples=1000)


def test_long_audio_raises_and_chunks():
    rng = np.random.default_rng(0)
    long = (0.1 * rng.standard_normal(65 * 16000)).astype(np.float32)
    msg = r"65\.00 s long.*30 s window.*chunk=True.*whisper\.transcribe"
    with pytest.raises(AudioInputError, match=msg):
        log_mel([long], 80)
    res = log_mel_chunks([long], 80)
    assert isinstance(res, MelBatch)
    assert res.mel.shape == (3, 80, 3000)
    assert res.source_index == [0, 0, 0]
    assert res.start_seconds == [0.0, 30.0, 60.0]
    torch.testing.assert_close(res.mel[0], log_mel([long[: 30 * 16000]], 80)[0], rtol=0, atol=0)
    torch.testing.assert_close(res.mel[2], log_mel([long[60 * 16000 :]], 80)[0], rtol=0, atol=0)
    torch.testing.assert_close(log_mel([long], 80, chunk=True), res.mel, rtol=0, atol=0)


def test_chunks_multiple_inputs(jfk):
    long = np.zeros(31 * 16000, dtype=np.float32)
    res = log_mel_chunks([jfk, long, jfk], 80)
    assert res.mel.shape[0] == 4
    assert res.source_index == [0, 1, 1, 2]
    assert res.start_seconds == [0.0, 0.0, 30.0, 0.0]


# --- frames -----------------------------------------------------------------


def test_frames_roundtrip_and_layout():
    mel = torch.randn(2, 80, 3000)
    frames = mel_to_frames(mel)
    assert frames.shape == (2, 2, 80, 1500)
    torch.testing.assert_close(frames_to_mel(frames), mel, rtol=0, atol=0)
    for p in (0, 1, 777, 1499):
        torch.testing.assert_close(frames[:, 0, :, p], mel[:, :, 2 * p], rtol=0, atol=0)
        torch.testing.assert_close(frames[:, 1, :, p], mel[:, :, 2 * p + 1], rtol=0, atol=0)
    f = torch.randn(1, 2, 128, 7)
    torch.testing.assert_close(mel_to_frames(frames_to_mel(f)), f, rtol=0, atol=0)


def test_frames_errors():
    with pytest.raises(AudioInputError, match=r"odd number of frames \(2999\)"):
        mel_to_frames(torch.zeros(1, 80, 2999))
    with pytest.raises(AudioInputError, match=r"\(batch, n_mels, n_mel_frames\).*mel\[None\]"):
        mel_to_frames(torch.zeros(80, 3000))
    with pytest.raises(AudioInputError, match=r"\(batch, 2, n_mels, n_positions\).*mel_to_frames"):
        frames_to_mel(torch.zeros(1, 3, 80, 1500))
    with pytest.raises(AudioInputError, match="got shape"):
        frames_to_mel(torch.zeros(2, 80, 1500))
