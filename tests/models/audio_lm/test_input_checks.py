"""No silent wrong answers on `HookedAudioLM`: hook returns, hook names, token ids, generation
lengths, non-finite checkpoints and oversized caches are refused with the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio import cache_memory
from hooked_audio.cache_memory import CacheTooLargeError, cache_bytes
from hooked_audio.hook_point import HookReturnError
from hooked_audio.models.audio_lm import HookedAudioLM
from tests.helpers.audio_lm_models import VOCAB, hooked, qwen2_audio_hf, qwen2_audio_inputs

RESID = "blocks.0.hook_resid_pre"


@pytest.fixture(scope="module")
def model() -> HookedAudioLM:
    return hooked(qwen2_audio_hf(seed=1))


@pytest.fixture(scope="module")
def batch() -> dict[str, torch.Tensor]:
    return qwen2_audio_inputs(mel_lengths=[80, 50], text_lengths=[7, 4], seed=3)


def test_a_hook_cannot_change_the_activation(model, batch):
    with pytest.raises(HookReturnError, match=rf"'{RESID}'.*\(2, 1, 48\).*\(2, \d+, 48\)"):
        model.run_with_hooks(**batch, fwd_hooks=[(RESID, lambda x, hook: x[:, :1])])
    tower = "audio_encoder.blocks.1.hook_resid_post"
    with pytest.raises(HookReturnError, match=rf"'{tower}'.*float16"):
        model.run_with_hooks(**batch, fwd_hooks=[(tower, lambda x, hook: x.half())])
    view = model.lm_stream(
        batch["input_features"], batch["feature_attention_mask"], batch["attention_mask"]
    )
    with pytest.raises(HookReturnError, match=RESID):
        view.run_with_hooks(batch["input_ids"], fwd_hooks=[(RESID, lambda x, hook: x[:, :1])])
    with model.hooks(fwd_hooks=[(RESID, lambda x, hook: x[:, :1])]):
        with pytest.raises(HookReturnError, match=RESID):
            model.generate(**batch, max_new_tokens=2)


def test_unknown_names_in_names_filter(model, batch):
    with pytest.raises(
        KeyError,
        match=r"'blocks\.0\.hook_resid_prex'.*Did you mean "
        r"'blocks\.0\.hook_resid_pre'",
    ):
        model.run_with_cache(**batch, names_filter=["hook_embed", "blocks.0.hook_resid_prex"])
    _, cache = model.run_with_cache(**batch, names_filter=("hook_embed", RESID))
    assert set(cache.keys()) == {"hook_embed", RESID}


def test_set_use_attn_result_takes_only_bools(model):
    with pytest.raises(TypeError, match="got 'True'"):
        model.set_use_attn_result("True")
    assert not model.config.use_attn_result


@pytest.mark.parametrize(
    "bad, message",
    [
        (-100, r"from -100 to .*first bad one at \(batch, pos\) \(0, {last}\).*label padding"),
        (VOCAB, rf"\[0, {VOCAB}\).*to {VOCAB}, .*\(0, {{last}}\).*another checkpoint's tokenizer"),
    ],
)
def test_out_of_range_input_ids(model, batch, bad, message):
    ids = batch["input_ids"].clone()
    last = ids.shape[1] - 1  # a text position
    ids[0, last] = bad
    message = message.format(last=last)
    inputs = {**batch, "input_ids": ids}
    for call in (
        lambda: model(**inputs),
        lambda: model.run_with_cache(**inputs),
        lambda: model.generate(**inputs, max_new_tokens=1),
        lambda: model.lm_stream(
            batch["input_features"], batch["feature_attention_mask"], batch["attention_mask"]
        )(ids),
    ):
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize(
    "ids", [torch.zeros(1, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long)]
)
def test_empty_input_ids(model, ids):
    for call in (lambda: model(ids), lambda: model.generate(ids, max_new_tokens=1)):
        with pytest.raises(ValueError, match=r"input_ids are empty.*prepare_inputs"):
            call()


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (-1, ValueError, "0 or more, got -1"),
        (2.0, TypeError, r"whole number of tokens, got 2\.0 \(float\)"),
        ("3", TypeError, "got '3'"),
        (True, TypeError, r"got True \(bool\)"),
    ],
)
def test_max_new_tokens_must_be_a_count(model, batch, bad, error, message):
    with pytest.raises(error, match=message):
        model.generate(**batch, max_new_tokens=bad)


def test_zero_new_tokens_returns_the_prompt(model, batch):
    assert torch.equal(model.generate(**batch, max_new_tokens=0), batch["input_ids"])
    two = model.generate(**batch, max_new_tokens=np.int64(2))
    assert two.shape == (2, batch["input_ids"].shape[1] + 2)


def test_hf_checkpoint_with_nan_is_refused(tmp_path):
    hf = qwen2_audio_hf(seed=0)
    with torch.no_grad():
        hf.model.language_model.layers[1].mlp.up_proj.weight[2, 3] = float("inf")
        hf.model.audio_tower.layers[0].fc1.bias[0] = float("nan")
    message = (
        r"2 weight tensor.*audio_tower\.layers\.0\.fc1\.bias.*language_model\.layers\.1"
        r"\.mlp\.up_proj\.weight.*corrupt.*float16"
    )
    with pytest.raises(ValueError, match=message):
        HookedAudioLM.from_hf(hf)
    hf.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=message):
        HookedAudioLM.from_pretrained(str(tmp_path))


def test_cache_estimate_and_refusal(model, batch, monkeypatch):
    model.set_use_attn_result(True)
    try:
        _, cache = model.run_with_cache(**batch)
        estimate = cache_bytes(model.cached_names(), model.cache_extents(**batch), itemsize=4)
    finally:
        model.set_use_attn_result(False)
    assert set(estimate) == set(cache.keys())
    for name, value in cache.items():  # exact, or an upper bound (grouped k/v, pooled frames)
        actual = value.numel() * value.element_size()
        assert actual <= estimate[name] <= 3 * actual, name
    total = sum(v.numel() * v.element_size() for v in cache.values())
    monkeypatch.setattr(cache_memory, "available_memory", lambda device: total // 10)
    with pytest.raises(CacheTooLargeError, match=r"batch 2\) needs about .*names_filter="):
        model.run_with_cache(**batch)
    _, small = model.run_with_cache(**batch, names_filter="blocks.1.hook_resid_post")
    assert list(small.keys()) == ["blocks.1.hook_resid_post"]
