"""HookedWhisper on random small configs: parity with openai-whisper, hooks, TL surface."""

from __future__ import annotations

import copy

import pytest
import torch
from transformer_lens import ActivationCache

from hooked_audio import HookedWhisper, mel_to_frames
from tests.helpers.whisper_models import random_dims, random_reference, reference_residuals

DIMS = random_dims()


@pytest.fixture(scope="module")
def pair():
    ref = random_reference(DIMS)
    return ref, HookedWhisper.from_openai_state_dict(DIMS, ref.state_dict())


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(1)
    mel = torch.randn(2, DIMS.n_mels, 2 * DIMS.n_audio_ctx, generator=gen)
    tokens = torch.randint(0, DIMS.n_vocab, (2, 9), generator=gen)
    return mel, tokens


def test_logits_and_residuals_match_openai_whisper(pair, inputs):
    ref, model = pair
    mel, tokens = inputs
    expected = reference_residuals(ref, mel, tokens)
    assert expected["logits"].abs().max() > 1.0  # weights large enough for a meaningful check
    with torch.no_grad():
        logits, cache = model.run_with_cache(mel, tokens)  # materialised attention path
        fused = model(mel, tokens)  # fused SDPA path
    torch.testing.assert_close(fused, expected["logits"], atol=1e-4, rtol=0)
    torch.testing.assert_close(logits, expected["logits"], atol=1e-4, rtol=0)
    for name, value in expected.items():
        if name != "logits":
            torch.testing.assert_close(cache[name], value, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize(
    "dims",
    [
        random_dims(n_audio_layer=1, n_text_layer=3, n_audio_head=2, n_text_head=2, n_audio_ctx=8),
        random_dims(
            n_mels=128,
            n_vocab=51866,
            n_audio_state=48,
            n_text_state=48,
            n_audio_head=6,
            n_text_head=6,
        ),
    ],
)
def test_other_shapes_match_openai_whisper(dims):
    ref = random_reference(dims, seed=3)
    model = HookedWhisper.from_openai_state_dict(dims, ref.state_dict())
    mel = torch.randn(1, dims.n_mels, 2 * dims.n_audio_ctx)
    tokens = torch.randint(0, dims.n_vocab, (1, 5))
    with torch.no_grad():
        torch.testing.assert_close(model(mel, tokens), ref(mel, tokens), atol=1e-4, rtol=0)


def test_frames_input_equals_mel_input(pair, inputs):
    _, model = pair
    mel, tokens = inputs
    with torch.no_grad():
        torch.testing.assert_close(
            model(mel_to_frames(mel), tokens), model(mel, tokens), atol=0, rtol=0
        )


def test_identity_hook_on_every_point_changes_nothing(pair, inputs):
    _, model = pair
    mel, tokens = inputs
    with torch.no_grad():
        base = model.run_with_cache(mel, tokens)[0]
        hooked = model.run_with_hooks(mel, tokens, fwd_hooks=[(lambda n: True, lambda x, hook: x)])
    torch.testing.assert_close(hooked, base, atol=0, rtol=0)


def test_hook_names_and_time_major_shapes(pair, inputs):
    _, model = pair
    mel, tokens = inputs
    with torch.no_grad():
        _, cache = model.run_with_cache(mel, tokens)
    assert isinstance(cache, ActivationCache)
    batch, n_frames, n_tok, heads, d_head = 2, DIMS.n_audio_ctx, tokens.shape[1], 4, 16
    expect = {
        "encoder.hook_conv1": (batch, 2 * n_frames, 64),
        "encoder.hook_conv2": (batch, n_frames, 64),
        "encoder.hook_pos_embed": (batch, n_frames, 64),
        "encoder.blocks.1.ln1.hook_scale": (batch, n_frames, 1),
        "encoder.blocks.1.attn.hook_q": (batch, n_frames, heads, d_head),
        "encoder.blocks.1.attn.hook_pattern": (batch, heads, n_frames, n_frames),
        "encoder.blocks.1.mlp.hook_post": (batch, n_frames, 256),
        "encoder.ln_post.hook_normalized": (batch, n_frames, 64),
        "decoder.hook_embed": (batch, n_tok, 64),
        "decoder.blocks.0.cross_attn.hook_k": (batch, n_frames, heads, d_head),
        "decoder.blocks.0.cross_attn.hook_attn_scores": (batch, heads, n_tok, n_frames),
        "decoder.blocks.0.hook_cross_attn_out": (batch, n_tok, 64),
        "decoder.blocks.0.hook_resid_mid_cross": (batch, n_tok, 64),
        "decoder.ln_final.hook_scale": (batch, n_tok, 1),
    }
    for name, shape in expect.items():
        assert tuple(cache[name].shape) == shape, name
    # Patterns are probability distributions; the decoder's self-attention is causal.
    pattern = cache["decoder.blocks.1.attn.hook_pattern"]
    torch.testing.assert_close(pattern.sum(-1), torch.ones(pattern.shape[:-1]))
    assert pattern.triu(1).abs().max() == 0
    assert "encoder.blocks.0.attn.hook_result" not in cache  # opt-in


def test_use_attn_result_sums_to_attention_output(pair, inputs):
    _, model = pair
    mel, tokens = inputs
    model.set_use_attn_result(True)
    try:
        with torch.no_grad():
            _, cache = model.run_with_cache(mel, tokens)
    finally:
        model.set_use_attn_result(False)
    for stack, attn, out in (
        ("encoder", "attn", "hook_attn_out"),
        ("decoder", "cross_attn", "hook_cross_attn_out"),
    ):
        block = getattr(model, stack).blocks[1]
        result = cache[f"{stack}.blocks.1.{attn}.hook_result"]
        torch.testing.assert_close(
            result.sum(2) + getattr(block, attn).b_O,
            cache[f"{stack}.blocks.1.{out}"],
            atol=1e-5,
            rtol=1e-5,
        )


def test_hook_layer_parses_nested_names(pair):
    _, model = pair
    assert model.hook_dict["encoder.blocks.1.attn.hook_z"].layer() == 1
    assert model.hook_dict["decoder.blocks.0.cross_attn.hook_pattern"].layer() == 0


def test_pos_slice_and_remove_batch_dim(pair, inputs):
    _, model = pair
    mel, tokens = inputs
    with torch.no_grad():
        _, full = model.run_with_cache(mel[:1], tokens[:1])
        _, sliced = model.run_with_cache(
            mel[:1],
            tokens[:1],
            pos_slice=3,
            remove_batch_dim=True,
            names_filter=lambda n: n.endswith(("resid_pre", "hook_q")),
        )
    assert set(sliced.keys()) == {k for k in full.keys() if k.endswith(("resid_pre", "hook_q"))}
    torch.testing.assert_close(
        sliced["encoder.blocks.1.hook_resid_pre"], full["encoder.blocks.1.hook_resid_pre"][0, 3:4]
    )
    torch.testing.assert_close(
        sliced["decoder.blocks.0.attn.hook_q"], full["decoder.blocks.0.attn.hook_q"][0, 3:4]
    )


def test_patching_an_activation_changes_output(pair, inputs):
    _, model = pair
    mel, tokens = inputs
    with torch.no_grad():
        base = model(mel, tokens)
        ablated = model.run_with_hooks(
            mel,
            tokens,
            fwd_hooks=[
                ("decoder.blocks.1.cross_attn.hook_pattern", lambda p, hook: torch.zeros_like(p))
            ],
        )
    assert (ablated - base).abs().max() > 1e-2


def test_stacked_weights_match_blocks(pair):
    _, model = pair
    enc, dec = model.encoder, model.decoder
    assert enc.W_Q.shape == (2, 4, 64, 16) and enc.W_O.shape == (2, 4, 16, 64)
    assert dec.W_in.shape == (2, 64, 256) and dec.W_K_cross.shape == (2, 4, 64, 16)
    torch.testing.assert_close(dec.W_V_cross[1], dec.blocks[1].cross_attn.W_V)
    torch.testing.assert_close(model.W_U, model.W_E.T)
    assert model.W_E.shape == (DIMS.n_vocab, 64)


def test_random_init_constructor_runs():
    model = HookedWhisper(random_dims(), seed=0)
    assert not model.training
    mel = torch.randn(1, 80, 32)
    with torch.no_grad():
        logits = model(mel, torch.tensor([[50257, 50362]]))
    assert logits.shape == (1, 2, 51864) and torch.isfinite(logits).all()
    assert not model.is_multilingual


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_close_to_float32(pair, inputs, dtype):
    _, model = pair
    mel, tokens = inputs
    half = copy.deepcopy(model).to(dtype=dtype)
    with torch.no_grad():
        expected = model(mel, tokens)
        got = half(mel.to(dtype), tokens)
        _, cache = half.run_with_cache(mel.to(dtype), tokens)
    assert got.dtype == torch.float32  # logits are returned in float32, as openai-whisper does
    assert cache["encoder.blocks.0.hook_resid_post"].dtype == dtype
    rel = (got - expected).norm() / expected.norm()
    assert rel < 0.05
