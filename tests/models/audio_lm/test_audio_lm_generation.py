"""HookedAudioLM.generate against HF `generate` (greedy and seeded sampling, left-padded
batches, end tokens), KV-cached against uncached decoding, and hooks acting at every step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.models.audio_lm.generation import filter_logits, generation_positions
from tests.helpers.audio_lm_models import (
    hooked,
    qwen2_audio_hf,
    qwen2_audio_inputs,
    voxtral_hf,
    voxtral_inputs,
)
from tests.helpers.audio_lm_processor import tiny_processor


@pytest.fixture(scope="module")
def pair():
    hf = qwen2_audio_hf(seed=1)
    return hf, hooked(hf)


@pytest.fixture(scope="module")
def batch():
    """Three prompts of different lengths (left-padded) with clips of 0.8, 0.5, 0.23 s."""
    return qwen2_audio_inputs(mel_lengths=[80, 50, 23], text_lengths=[7, 4, 9], seed=3)


def test_greedy_matches_hf_on_a_left_padded_batch(pair, batch):
    hf, model = pair
    assert not batch["attention_mask"].all()
    with torch.no_grad():
        ref = hf.generate(**batch, max_new_tokens=10, do_sample=False)
    ours = model.generate(**batch, max_new_tokens=10)
    assert ours.shape == ref.shape == (3, batch["input_ids"].shape[1] + 10)
    assert torch.equal(ours[:, : batch["input_ids"].shape[1]], batch["input_ids"])
    assert torch.equal(ours, ref)
    assert len(set(ours[:, -10:].flatten().tolist())) > 3  # not one token repeated everywhere
    uncached = model.generate(**batch, max_new_tokens=10, use_kv_cache=False)
    assert torch.equal(uncached, ours)
    # the most padded row alone (no padding) gives its batched continuation
    i = int(batch["attention_mask"].sum(-1).argmin())
    keep = batch["attention_mask"][i].bool()
    alone = model.generate(
        input_ids=batch["input_ids"][i : i + 1, keep],
        input_features=batch["input_features"][i : i + 1],
        feature_attention_mask=batch["feature_attention_mask"][i : i + 1],
        max_new_tokens=10,
    )
    assert torch.equal(alone[0, -10:], ours[i, -10:])


def test_end_tokens_and_padding_match_hf(pair, batch):
    hf, model = pair
    free = model.generate(**batch, max_new_tokens=6)[:, -6:]
    eos = int(free[0, 2])  # row 0 ends at its third new token; the others may run on
    with torch.no_grad():
        ref = hf.generate(
            **batch, max_new_tokens=6, do_sample=False, eos_token_id=eos, pad_token_id=3
        )
    ours = model.generate(**batch, max_new_tokens=6, eos_token_id=eos, pad_token_id=3)
    assert torch.equal(ours, ref)
    assert ours[0, -6:][3:].eq(3).all()  # padded after its end token
    never = model.generate(**batch, max_new_tokens=6, eos_token_id=eos, stop_at_eos=False)
    assert torch.equal(never[:, -6:], free)


def test_seeded_sampling_matches_hf(pair, batch):
    hf, model = pair
    settings = dict(do_sample=True, temperature=0.7, top_k=20, top_p=0.9, max_new_tokens=6)
    torch.manual_seed(11)
    with torch.no_grad():
        ref = hf.generate(**batch, **settings)
    torch.manual_seed(11)
    ours = model.generate(**batch, **settings)
    assert torch.equal(ours, ref)
    greedy = model.generate(**batch, max_new_tokens=6)
    assert not torch.equal(ours, greedy)


def test_voxtral_greedy_matches_hf():
    hf = voxtral_hf()
    model = hooked(hf)
    inputs = voxtral_inputs()
    with torch.no_grad():
        ref = hf.generate(**inputs, max_new_tokens=10, do_sample=False)
    assert torch.equal(model.generate(**inputs, max_new_tokens=10), ref)
    assert torch.equal(model.generate(**inputs, max_new_tokens=10, use_kv_cache=False), ref)


def test_hooks_act_at_every_step(pair, batch):
    _, model = pair
    n_prompt = batch["input_ids"].shape[1]
    for cached in (True, False):
        seen: dict[str, list] = {"resid": [], "projector": []}
        hooks = [
            ("blocks.0.hook_resid_pre", lambda x, hook: seen["resid"].append(x.shape[1])),
            ("projector.hook_out", lambda x, hook: seen["projector"].append(x.shape)),
        ]
        with model.hooks(fwd_hooks=hooks):
            model.generate(**batch, max_new_tokens=4, use_kv_cache=cached)
        # the language model runs once per new token, the audio tower once in all
        expected = [n_prompt, 1, 1, 1] if cached else [n_prompt + i for i in range(4)]
        assert seen["resid"] == expected
        assert len(seen["projector"]) == 1
    assert not model.hook_dict["blocks.0.hook_resid_pre"].fwd_hooks  # removed on exit

    plain = model.generate(**batch, max_new_tokens=4)
    # an identity hook changes nothing; ablating attention changes the continuation
    with model.hooks(fwd_hooks=[("blocks.1.hook_attn_out", lambda x, hook: x)]):
        assert torch.equal(model.generate(**batch, max_new_tokens=4), plain)
    ablate = [("blocks.1.hook_attn_out", lambda x, hook: torch.zeros_like(x))]
    with model.hooks(fwd_hooks=ablate):
        ablated = model.generate(**batch, max_new_tokens=4)
        ablated_uncached = model.generate(**batch, max_new_tokens=4, use_kv_cache=False)
    assert not torch.equal(ablated, plain) and torch.equal(ablated, ablated_uncached)
    # the same ablation teacher-forced on the ablated continuation picks its tokens
    mask = torch.cat([batch["attention_mask"], torch.ones(3, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        logits = model.run_with_hooks(
            input_ids=ablated,
            attention_mask=mask,
            position_ids=generation_positions(mask),
            input_features=batch["input_features"],
            feature_attention_mask=batch["feature_attention_mask"],
            fwd_hooks=ablate,
        )
    assert torch.equal(logits[:, n_prompt - 1 : -1].argmax(-1), ablated[:, n_prompt:])


def test_generate_from_processor_inputs_with_strings():
    """prepare_inputs -> generate: the tokenizer's end token (`<|im_end|>`) stops by default,
    as HF does with it as eos; `return_type="str"` decodes the new tokens."""
    hf = qwen2_audio_hf(seed=4)
    model = hooked(hf)
    model.set_processor(tiny_processor())
    rng = np.random.default_rng(0)
    clips = [0.2 * rng.standard_normal(n).astype(np.float32) for n in (12000, 5000)]
    chats = [
        [
            {
                "role": "user",
                "content": [
                    {"type": "audio", "audio": clip},
                    {"type": "text", "text": "Describe it."},
                ],
            }
        ]
        for clip in clips
    ]
    inputs = model.prepare_inputs(conversation=chats)
    assert model._eos_ids(None) == [99] and model._eos_ids(np.int64(5)) == [5]
    with torch.no_grad():
        ref = hf.generate(
            **inputs, max_new_tokens=6, do_sample=False, eos_token_id=99, pad_token_id=99
        )
    ours = model.generate(**inputs, max_new_tokens=6)
    assert torch.equal(ours, ref)
    texts = model.generate(**inputs, max_new_tokens=6, return_type="str")
    n_prompt = inputs["input_ids"].shape[1]
    assert texts == model.processor.batch_decode(ours[:, n_prompt:], skip_special_tokens=True)


def test_progress_bar_and_bad_arguments(pair, batch, capsys):
    _, model = pair
    model.generate(**batch, max_new_tokens=2, progress=True)
    assert "generate" in capsys.readouterr().err
    model.generate(**batch, max_new_tokens=2)
    assert "generate" not in capsys.readouterr().err  # short runs stay quiet by default
    right = qwen2_audio_inputs([80, 40], [7, 3], left_pad=False)
    with pytest.raises(ValueError, match="ends in padding.*Pad on the left"):
        model.generate(**right, max_new_tokens=2)
    with pytest.raises(ValueError, match="temperature must be positive"):
        model.generate(**batch, do_sample=True, temperature=0.0)
    with pytest.raises(ValueError, match="no input_features were given"):
        model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])


def test_filter_logits():
    logits = torch.tensor([[3.0, 1.0, 2.0, 0.0]])
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, True, False, True]]
    # top_p keeps the smallest set reaching p: 0.665 alone is short of 0.8, with 0.245 it is not
    kept = ~torch.isinf(filter_logits(logits, top_p=0.8))
    assert kept.tolist() == [[True, False, True, False]]
    torch.testing.assert_close(filter_logits(logits, temperature=2.0), logits / 2)
    assert generation_positions(torch.tensor([[0, 0, 1, 1, 1]])).tolist() == [[0, 0, 0, 1, 2]]
