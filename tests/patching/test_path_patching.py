"""Path patching: invariants, TransformerLens's own functions, brute force on openai-whisper."""

from __future__ import annotations

import pytest
import torch
import transformer_lens.patching as tlp

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.models.whisper import audio_to_cross_heads
from hooked_audio.patching import Sender, direct_path, direct_path_head_sweep
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12, n_audio_layer=3, n_text_layer=3)


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    ref = random_reference(DIMS, seed=31, std=0.15)
    model = HookedWhisper.from_openai_state_dict(DIMS, ref.state_dict())
    gen = torch.Generator().manual_seed(6)
    clean = torch.randn(1, 80, 12, generator=gen)
    corrupt = clean + 2 * torch.randn(1, 80, 12, generator=gen)
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    corrupt_tokens = torch.tensor([[50257, 50362, 11, 99, 13]])
    return ref, model, clean, corrupt, tokens, corrupt_tokens


def _views(setup):
    _, model, clean, corrupt, tokens, corrupt_tokens = setup
    yield model.encoder_stream(tokens), mel_to_frames(clean), mel_to_frames(corrupt)
    yield model.decoder_stream(clean), tokens, corrupt_tokens


def test_mlp_to_next_layer_equals_mlp_out_patching(setup):
    # Nothing lies between an MLP's output and the next layer's input: the direct path is the
    # whole effect, which TransformerLens's get_act_patch_mlp_out measures.
    for view, clean, corrupt in _views(setup):
        with torch.no_grad():
            _, clean_cache = view.run_with_cache(clean)
            expected = tlp.get_act_patch_mlp_out(view, corrupt, clean_cache, logit_diff)
        for pos in (0, 3):
            got = direct_path(
                view, clean, corrupt, logit_diff, Sender(1, "mlp"), 2, positions=[pos]
            ).item()
            assert got == pytest.approx(float(expected[1, pos]), abs=1e-4)


def test_attention_direct_path_equals_hooked_definition(setup):
    for view, clean, corrupt in _views(setup):
        with torch.no_grad():
            _, base = view.run_with_cache(corrupt)
            _, source = view.run_with_cache(clean)
            delta = source["blocks.0.hook_attn_out"] - base["blocks.0.hook_attn_out"]
            add = lambda x, hook: x + delta
            expected = logit_diff(
                view.run_with_hooks(corrupt, fwd_hooks=[("blocks.2.hook_resid_pre", add)])
            )
        got = direct_path(view, clean, corrupt, logit_diff, Sender(0, "attn"), 2).item()
        assert got == pytest.approx(float(expected), abs=1e-4)


def test_heads_direct_to_logits_sum_of_heads_is_the_layer(setup):
    _, model, clean, _, tokens, corrupt_tokens = setup
    view = model.decoder_stream(clean)
    sweep = direct_path_head_sweep(view, tokens, corrupt_tokens, logit_diff, receiver_layer=3)
    assert sweep.values.shape == (3, DIMS.n_text_head)
    # The metric is linear in the final residual stream up to ln_final, so compare deltas of
    # the pre-LN logit direction: heads' direct writes add up to the layer's attention write.
    with torch.no_grad():
        _, base = view.run_with_cache(corrupt_tokens)
        _, source = view.run_with_cache(tokens)
    layer = 1
    heads = sum(
        Sender(layer, "attn", h).output(view, source) - Sender(layer, "attn", h).output(view, base)
        for h in range(DIMS.n_text_head)
    )
    whole = Sender(layer, "attn").output(view, source) - Sender(layer, "attn").output(view, base)
    torch.testing.assert_close(heads, whole, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="receiver layer must come after"):
        direct_path(view, tokens, corrupt_tokens, logit_diff, Sender(2, "attn"), 2)


def test_audio_through_chosen_cross_heads_equals_brute_force(setup):
    ref, model, clean, corrupt, tokens, _ = setup
    heads = [(0, 1), (2, 3)]
    got = audio_to_cross_heads(model, clean, corrupt, tokens, logit_diff, heads).item()
    # openai-whisper: cross-attention key/value projections of the chosen heads' columns
    # computed from the clean audio, every other column from the corrupt audio.
    d_head = DIMS.n_text_state // DIMS.n_text_head
    with torch.no_grad():
        clean_features = ref.encoder(clean)
    handles = []
    for layer, head in heads:
        attn = ref.decoder.blocks[layer].cross_attn
        for proj in (attn.key, attn.value):
            with torch.no_grad():
                clean_proj = proj(clean_features)

            def swap(m, a, out, h=head, clean_proj=clean_proj):
                out = out.clone()
                cols = slice(h * d_head, (h + 1) * d_head)
                out[..., cols] = clean_proj[..., cols]
                return out

            handles.append(proj.register_forward_hook(swap))
    with torch.no_grad():
        expected = logit_diff(ref(corrupt, tokens))
    for h in handles:
        h.remove()
    assert got == pytest.approx(float(expected), abs=1e-4)


def test_audio_through_all_cross_heads_is_the_clean_run(setup):
    _, model, clean, corrupt, tokens, _ = setup
    every = [(l, h) for l in range(DIMS.n_text_layer) for h in range(DIMS.n_text_head)]
    with torch.no_grad():
        clean_value, corrupt_value = (
            logit_diff(model(clean, tokens)),
            logit_diff(model(corrupt, tokens)),
        )
    assert audio_to_cross_heads(
        model, clean, corrupt, tokens, logit_diff, every
    ).item() == pytest.approx(float(clean_value), abs=1e-4)
    assert audio_to_cross_heads(
        model, clean, corrupt, tokens, logit_diff, []
    ).item() == pytest.approx(float(corrupt_value), abs=1e-4)
    assert audio_to_cross_heads(
        model, clean, corrupt, tokens, logit_diff, every, direction="noise"
    ).item() == pytest.approx(float(corrupt_value), abs=1e-4)


def test_head_sweep_equals_direct_path_per_head(setup):
    _, model, clean, _, tokens, corrupt_tokens = setup
    view = model.decoder_stream(clean)
    sweep = direct_path_head_sweep(
        view, tokens, corrupt_tokens, logit_diff, receiver_layer=2, direction="noise"
    )
    for layer, head in ((0, 1), (1, 3)):
        one = direct_path(
            view,
            tokens,
            corrupt_tokens,
            logit_diff,
            Sender(layer, "attn", head),
            2,
            direction="noise",
        ).item()
        assert float(sweep.values[layer, head]) == pytest.approx(one, abs=1e-5)
    with torch.no_grad():
        assert sweep.clean_value == pytest.approx(float(logit_diff(view(tokens))), abs=1e-5)
