"""Stream views: TransformerLens's own patching functions and cache helpers, unchanged,
on each stack of HookedWhisper, checked against brute force on openai-whisper."""

from __future__ import annotations

import pytest
import torch
import transformer_lens.patching as tlp

from hooked_audio import HookedWhisper, mel_to_frames
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
N_POS = DIMS.n_audio_ctx
ANSWER, WRONG = 7, 8


@pytest.fixture(scope="module")
def setup():
    ref = random_reference(DIMS, seed=11, std=0.15)
    model = HookedWhisper.from_openai_state_dict(DIMS, ref.state_dict())
    gen = torch.Generator().manual_seed(2)
    clean_mel = torch.randn(1, DIMS.n_mels, 2 * N_POS, generator=gen)
    corrupt_mel = clean_mel.clone()
    corrupt_mel[..., 4:8] = torch.randn(DIMS.n_mels, 4, generator=gen)  # frames 2 and 3 differ
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    return ref, model, clean_mel, corrupt_mel, tokens


def logit_diff(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1, ANSWER] - logits[:, -1, WRONG]).mean()


def _brute_force_resid_pre(ref, stack, clean_in, corrupt_in, tokens, n_pos):
    """Plain torch pre-hooks on openai-whisper: replace one block input position."""
    blocks = getattr(ref, stack).blocks
    run = lambda mel, tok: ref(mel, tok)
    clean_acts = {}
    handles = [
        b.register_forward_pre_hook(
            lambda m, args, l=l: clean_acts.__setitem__(l, args[0].detach())
        )
        for l, b in enumerate(blocks)
    ]
    with torch.no_grad():
        run(*clean_in)
    for h in handles:
        h.remove()
    out = torch.zeros(len(blocks), n_pos)
    for layer, block in enumerate(blocks):
        for pos in range(n_pos):

            def patch(m, args, pos=pos, layer=layer):
                x = args[0].clone()
                x[:, pos] = clean_acts[layer][:, pos]
                return (x, *args[1:])

            handle = block.register_forward_pre_hook(patch)
            with torch.no_grad():
                out[layer, pos] = logit_diff(run(*corrupt_in))
            handle.remove()
    return out


def test_views_satisfy_the_protocol(setup):
    protocol = pytest.importorskip("transformer_lens.model_protocol")  # transformer-lens 4.x
    _, model, clean_mel, _, tokens = setup
    assert isinstance(model.encoder_stream(tokens), protocol.TransformerLensModel)
    assert isinstance(model.decoder_stream(clean_mel), protocol.TransformerLensModel)


def test_encoder_resid_pre_patching_equals_brute_force(setup):
    ref, model, clean_mel, corrupt_mel, tokens = setup
    view = model.encoder_stream(tokens)
    clean, corrupt = mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(clean)
        result = tlp.get_act_patch_resid_pre(view, corrupt, clean_cache, logit_diff)
    assert result.shape == (DIMS.n_audio_layer, N_POS)
    expected = _brute_force_resid_pre(
        ref, "encoder", (clean_mel, tokens), (corrupt_mel, tokens), tokens, N_POS
    )
    torch.testing.assert_close(result, expected, atol=1e-4, rtol=0)
    # Frames outside the corruption's reach (mel columns 4-7, widened by the two k=3 convs to
    # frames 1-4) carry no effect at layer 0.
    corrupt_value = logit_diff(model(corrupt_mel, tokens))
    torch.testing.assert_close(result[0, [0, 5]], corrupt_value.expand(2), atol=1e-5, rtol=0)
    assert (result[0, 1:5] - corrupt_value).abs().min() > 1e-3


def test_decoder_resid_pre_patching_equals_brute_force(setup):
    ref, model, clean_mel, _, tokens = setup
    corrupt_tokens = tokens.clone()
    corrupt_tokens[0, 2] = 99
    view = model.decoder_stream(clean_mel)
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(tokens)
        result = tlp.get_act_patch_resid_pre(view, corrupt_tokens, clean_cache, logit_diff)
    expected = _brute_force_resid_pre(
        ref, "decoder", (clean_mel, tokens), (clean_mel, corrupt_tokens), tokens, tokens.shape[1]
    )
    torch.testing.assert_close(result, expected, atol=1e-4, rtol=0)


def test_every_stock_patching_function_runs_on_both_streams_slow(setup):
    _, model, clean_mel, corrupt_mel, tokens = setup
    corrupt_tokens = tokens.clone()
    corrupt_tokens[0, 3] = 99
    cases = [
        (model.encoder_stream(tokens), mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)),
        (model.decoder_stream(clean_mel), tokens, corrupt_tokens),
    ]
    for view, clean, corrupt in cases:
        n_layers, n_heads, n_pos = view.cfg.n_layers, view.cfg.n_heads, clean.shape[-1]
        with torch.no_grad():
            _, cache = view.run_with_cache(clean)
            clean_value = logit_diff(view(clean))
            shapes = {
                tlp.get_act_patch_resid_pre: (n_layers, n_pos),
                tlp.get_act_patch_resid_mid: (n_layers, n_pos),
                tlp.get_act_patch_attn_out: (n_layers, n_pos),
                tlp.get_act_patch_mlp_out: (n_layers, n_pos),
                tlp.get_act_patch_attn_head_out_by_pos: (n_layers, n_pos, n_heads),
                tlp.get_act_patch_attn_head_q_by_pos: (n_layers, n_pos, n_heads),
                tlp.get_act_patch_attn_head_k_by_pos: (n_layers, n_pos, n_heads),
                tlp.get_act_patch_attn_head_v_by_pos: (n_layers, n_pos, n_heads),
                tlp.get_act_patch_attn_head_pattern_by_pos: (n_layers, n_heads, n_pos),
                tlp.get_act_patch_attn_head_out_all_pos: (n_layers, n_heads),
                tlp.get_act_patch_attn_head_q_all_pos: (n_layers, n_heads),
                tlp.get_act_patch_attn_head_k_all_pos: (n_layers, n_heads),
                tlp.get_act_patch_attn_head_v_all_pos: (n_layers, n_heads),
                tlp.get_act_patch_attn_head_pattern_all_pos: (n_layers, n_heads),
            }
            for fn, shape in shapes.items():
                result = fn(view, corrupt, cache, logit_diff)
                assert tuple(result.shape) == shape, fn
                # Clean -> clean patching gives the clean metric everywhere.
                same = fn(view, clean, cache, logit_diff)
                torch.testing.assert_close(same, clean_value.expand(shape), atol=1e-4, rtol=0)
            every = tlp.get_act_patch_block_every(view, corrupt, cache, logit_diff)
            assert every.shape == (3, n_layers, n_pos)
            heads = tlp.get_act_patch_attn_head_all_pos_every(view, corrupt, cache, logit_diff)
            assert heads.shape == (5, n_layers, n_heads)
            result = tlp.get_act_patch_resid_pre(
                view,
                corrupt,
                cache,
                {"ld": logit_diff, "neg": lambda l: -logit_diff(l)},
                baseline=True,
            )
            torch.testing.assert_close(result.values[1], -result.values[0])
            torch.testing.assert_close(result.baseline[0], logit_diff(view(corrupt)))


def test_view_cache_names_and_hook_names_are_local(setup):
    _, model, clean_mel, _, tokens = setup
    view = model.encoder_stream(tokens)
    seen = []
    with torch.no_grad():
        _, cache = view.run_with_cache(mel_to_frames(clean_mel))
        view.run_with_hooks(
            mel_to_frames(clean_mel),
            fwd_hooks=[
                ("blocks.1.attn.hook_z", lambda x, hook: seen.append((hook.name, hook.layer())))
            ],
        )
    assert seen == [("blocks.1.attn.hook_z", 1)]
    assert "hook_embed" in cache and "hook_pos_embed" in cache and "ln_final.hook_scale" in cache
    assert all(not k.startswith(("encoder.", "decoder.")) for k in cache.keys())
    with pytest.raises(KeyError, match="No hook point named 'blocks.9.hook_resid_pre'"):
        view.run_with_hooks(
            mel_to_frames(clean_mel), fwd_hooks=[("blocks.9.hook_resid_pre", print)]
        )


def test_accumulated_resid_and_decomposition_on_both_streams(setup):
    _, model, clean_mel, _, tokens = setup
    enc = model.encoder_stream(tokens)
    dec = model.decoder_stream(clean_mel)
    with torch.no_grad():
        _, enc_cache = enc.run_with_cache(mel_to_frames(clean_mel))
        _, dec_cache = dec.run_with_cache(tokens)
    for cache, n_layers in ((enc_cache, DIMS.n_audio_layer), (dec_cache, DIMS.n_text_layer)):
        resid = cache.accumulated_resid()
        assert resid.shape[0] == n_layers + 1
        torch.testing.assert_close(resid[0], cache["blocks.0.hook_resid_pre"])
        for layer in range(n_layers + 1):
            parts = cache.decompose_resid(layer=layer)
            target = (
                cache[f"blocks.{layer}.hook_resid_pre"]
                if layer < n_layers
                else cache[f"blocks.{n_layers - 1}.hook_resid_post"]
            )
            torch.testing.assert_close(parts.sum(0), target, atol=1e-4, rtol=1e-4)
        ln = cache.accumulated_resid(apply_ln=True)
        torch.testing.assert_close(ln[-1], cache["ln_final.hook_normalized"], atol=1e-4, rtol=1e-4)
    _, labels = dec_cache.decompose_resid(return_labels=True)
    assert labels[:5] == ["embed", "pos_embed", "0_attn_out", "0_cross_attn_out", "0_mlp_out"]
    # Direct logit attribution: LayerNorm-scaled components (biases live inside attn_out and
    # mlp_out) times the unfolded LayerNorm weight add up to the logit difference.
    parts = dec_cache.decompose_resid(apply_ln=True, pos_slice=-1)
    direction = dec.W_U[:, ANSWER] - dec.W_U[:, WRONG]
    raw = dec_cache.decompose_resid(pos_slice=-1)  # logit_attrs applies ln_final's scale itself
    attrs = dec_cache.logit_attrs(
        raw, tokens=torch.tensor([ANSWER]), incorrect_tokens=torch.tensor([WRONG]), pos_slice=-1
    )
    torch.testing.assert_close(attrs[:, 0], parts[:, 0] @ direction, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        expected = logit_diff(dec(tokens))
        total = ((parts[:, 0] * dec.ln_final.w) @ direction).sum() + dec.ln_final.b @ direction
    torch.testing.assert_close(total, expected, atol=1e-4, rtol=1e-4)


def test_head_and_full_decompositions_on_the_decoder_stream():
    ref = random_reference(DIMS, seed=12, std=0.15)
    model = HookedWhisper.from_openai_state_dict(DIMS, ref.state_dict(), use_attn_result=True)
    view = model.decoder_stream(torch.randn(1, 80, 2 * N_POS))
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    with torch.no_grad():
        _, cache = view.run_with_cache(tokens)
    heads, labels = cache.stack_head_results(layer=-1, return_labels=True)
    assert heads.shape[0] == DIMS.n_text_layer * DIMS.n_text_head and labels[0] == "L0H0"
    final = cache[f"blocks.{DIMS.n_text_layer - 1}.hook_resid_post"]
    for expand in (False, True):
        full, labels = cache.get_full_resid_decomposition(expand_neurons=expand, return_labels=True)
        assert "L0X0" in labels and labels[-1] == "bias"
        torch.testing.assert_close(full.sum(0), final, atol=1e-4, rtol=1e-4)
    mid = cache.get_full_resid_decomposition(layer=1, mlp_input=True, expand_neurons=False)
    torch.testing.assert_close(
        mid.sum(0), cache["blocks.1.hook_resid_mid_cross"], atol=1e-4, rtol=1e-4
    )
    ln = cache.get_full_resid_decomposition(expand_neurons=False, apply_ln=True, pos_slice=-1)
    torch.testing.assert_close(
        ln.sum(0) * view.ln_final.w + view.ln_final.b,
        cache["ln_final.hook_normalized"][:, -1],
        atol=1e-4,
        rtol=1e-4,
    )


def test_transformer_lens_patching_refuses_a_cache_that_is_not_this_streams(setup):
    """TransformerLens indexes the clean activation by position, so a cache of another batch
    broadcasts and one of a model with more positions slices without an error; the view
    refuses any clean activation whose shape is not the one it patches."""
    _, model, clean_mel, corrupt_mel, tokens = setup
    view = model.encoder_stream(tokens)
    corrupt = mel_to_frames(corrupt_mel)
    with torch.no_grad():
        _, cache = view.run_with_cache(mel_to_frames(clean_mel))
        tlp.get_act_patch_resid_pre(view, corrupt, cache, logit_diff)  # its own cache: fine
        with pytest.raises(
            ValueError,
            match=r"patched in at 'blocks.0.hook_resid_pre' is "
            rf"\(1, {N_POS}, 64\), but this stream's is \(2, {N_POS}, 64\)",
        ):
            tlp.get_act_patch_resid_pre(view, corrupt.repeat(2, 1, 1, 1), cache, logit_diff)
        longer = HookedWhisper(random_dims(n_audio_ctx=2 * N_POS))  # more positions
        _, other = longer.encoder_stream(tokens).run_with_cache(
            torch.zeros(1, 2, DIMS.n_mels, 2 * N_POS)
        )
        with pytest.raises(ValueError, match="the cache comes from another model"):
            tlp.get_act_patch_resid_pre(view, corrupt, other, logit_diff)
