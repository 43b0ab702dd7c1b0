"""Patching on HookedAudioEncoder's stream view: TransformerLens's own functions unchanged,
checked against brute force on the HF model, and the fast engine against TransformerLens."""

from __future__ import annotations

import pytest
import torch
import transformer_lens.patching as tlp

from hooked_audio.models.audio_encoder import HookedAudioEncoder
from hooked_audio.patching import (
    Sender,
    direct_path_head_sweep,
    head_sweep,
    layer_sweep,
    resid_pre_attribution,
    resid_pre_attribution_qk,
)
from tests.helpers.audio_encoder_models import N_POS, brute_force_resid_pre, random_hf, waveforms

CHAR, OTHER = 3, 5


def ctc_metric(logits: torch.Tensor) -> torch.Tensor:
    """Mean log-probability margin of one character over another across positions."""
    logprobs = logits.log_softmax(-1)
    return (logprobs[..., CHAR] - logprobs[..., OTHER]).mean()


def hidden_metric(hidden: torch.Tensor) -> torch.Tensor:
    return hidden[..., :4].sum(-1).mean()


# (architecture, CTC head, do_stable_layer_norm, feat_extract_norm)
CASES = [("wav2vec2", True, False, "group"), ("hubert", False, True, "layer")]


@pytest.fixture(scope="module", params=CASES, ids=["w2v2-ctc-postLN", "hubert-preLN"])
def setup(request):
    arch, ctc, stable, norm = request.param
    hf = random_hf(arch, ctc, stable, norm, seed=21)
    model = HookedAudioEncoder.from_hf(hf)
    clean, corrupt = waveforms(seed=22)
    metric = ctc_metric if ctc else hidden_metric
    return hf, model, clean, corrupt, metric


def test_stock_resid_pre_patching_equals_brute_force_on_hf(setup):
    hf, model, clean, corrupt, metric = setup
    view = model.encoder_stream()
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    assert corrupt_frames.shape[-1] == N_POS
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(clean_frames)
        result = tlp.get_act_patch_resid_pre(view, corrupt_frames, clean_cache, metric)
    assert result.shape == (2, N_POS)
    expected = brute_force_resid_pre(hf, clean, corrupt, metric)
    torch.testing.assert_close(result, expected, atol=1e-4, rtol=0)
    with torch.no_grad():
        corrupt_value = metric(view(corrupt_frames))
    assert (result - corrupt_value).abs().max() > 1e-3  # some cell moves the metric


@pytest.mark.parametrize("act", ["resid_pre", "attn_out", "mlp_out"])
def test_layer_sweep_equals_transformer_lens(setup, act):
    _, model, clean, corrupt, metric = setup
    view = model.encoder_stream()
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    stock = {
        "resid_pre": tlp.get_act_patch_resid_pre,
        "attn_out": tlp.get_act_patch_attn_out,
        "mlp_out": tlp.get_act_patch_mlp_out,
    }[act]
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(clean_frames)
        expected = stock(view, corrupt_frames, clean_cache, metric)
    for batch_size in (1, 4):  # 4: the engine stacks copies of the batch through resume_from
        result = layer_sweep(
            view,
            clean_frames,
            corrupt_frames,
            metric,
            act=act,
            batch_size=batch_size,
            progress=False,
        )
        torch.testing.assert_close(result.values, expected, atol=1e-4, rtol=0)
    assert result.cell_seconds[2] == pytest.approx((0.04, 0.06))
    assert result.cell_labels[2] == "0.04-0.06s"


def test_invariants_every_position_and_identity_hook(setup):
    _, model, clean, corrupt, metric = setup
    view = model.encoder_stream()
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    with torch.no_grad():
        clean_value = metric(view(clean_frames))
        _, clean_cache = view.run_with_cache(clean_frames)
        for layer in range(view.cfg.n_layers + 1):
            name = (
                f"blocks.{layer}.hook_resid_pre"
                if layer < view.cfg.n_layers
                else f"blocks.{layer - 1}.hook_resid_post"
            )
            every = lambda x, hook, name=name: clean_cache[name]
            patched = metric(view.run_with_hooks(corrupt_frames, fwd_hooks=[(name, every)]))
            torch.testing.assert_close(patched, clean_value, atol=1e-5, rtol=0)
        plain = view(corrupt_frames)
        residual = lambda name: "resid" in name or name.endswith(("attn_out", "mlp_out"))
        identity = view.run_with_hooks(corrupt_frames, fwd_hooks=[(residual, lambda x, hook: x)])
        torch.testing.assert_close(identity, plain, atol=0, rtol=0)
        # On every hook: listening to the pattern switches to the materialised attention
        # path, equal to the fused one to float rounding.
        identity = view.run_with_hooks(
            corrupt_frames, fwd_hooks=[(lambda name: True, lambda x, hook: x)]
        )
        torch.testing.assert_close(identity, plain, atol=1e-5, rtol=0)
        # resume_from at each layer, and after the last block, equals the full forward.
        out, cache = view.run_with_cache(corrupt_frames)
        for layer in range(view.cfg.n_layers):
            resumed = view.resume_from(layer, cache[f"blocks.{layer}.hook_resid_pre"])
            torch.testing.assert_close(resumed, out, atol=1e-5, rtol=0)
        last = (
            "blocks.1.hook_resid_post"
            if model.config.do_stable_layer_norm
            else "blocks.1.hook_normalized_resid_post"
        )
        torch.testing.assert_close(view.resume_from(2, cache[last]), out, atol=1e-5, rtol=0)
        stacked = view.resume_from(1, cache["blocks.1.hook_resid_pre"].repeat(3, 1, 1))
        torch.testing.assert_close(stacked, out.repeat(3, 1, 1), atol=1e-5, rtol=0)
    every_position = layer_sweep(
        view, clean_frames, corrupt_frames, metric, cells=[list(range(N_POS))], progress=False
    )
    torch.testing.assert_close(every_position.values, clean_value.expand(2, 1), atol=1e-5, rtol=0)


def test_head_patching_runs_on_the_view(setup):
    _, model, clean, corrupt, metric = setup
    view = model.encoder_stream()
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(clean_frames)
        clean_value = metric(view(clean_frames))
        for fn, shape in (
            (tlp.get_act_patch_attn_head_out_all_pos, (2, 4)),
            (tlp.get_act_patch_attn_head_pattern_all_pos, (2, 4)),
        ):
            assert fn(view, corrupt_frames, clean_cache, metric).shape == shape
            same = fn(view, clean_frames, clean_cache, metric)
            torch.testing.assert_close(same, clean_value.expand(shape), atol=1e-4, rtol=0)


def test_the_head_sweep_on_the_view_is_the_clean_run_for_clean_sources(setup):
    _, model, clean, _, metric = setup
    view = model.encoder_stream()
    clean_frames = model.to_frames(clean)
    with torch.no_grad():
        clean_value = float(metric(view(clean_frames)))
        _, clean_cache = view.run_with_cache(clean_frames)
    heads = head_sweep(view, clean_frames, clean_cache, metric, component="attn", progress=False)
    torch.testing.assert_close(heads.values, torch.full((2, 4), clean_value), atol=1e-5, rtol=0)


def test_attribution_on_the_view_is_the_first_order_change_of_exact_patching(setup):
    """For a corrupt input a small step from the clean one, patching a position changes the
    metric by its first-order term, which attribution patching estimates: the exact sweep
    (`layer_sweep`) and both estimates agree to a few percent of the largest effect, and the
    estimates differ from the corrupt value where the exact sweep does."""
    _, model, clean, corrupt, metric = setup
    view = model.encoder_stream()
    clean_frames = model.to_frames(clean)
    near = clean_frames + 1e-2 * (model.to_frames(corrupt) - clean_frames)
    exact = layer_sweep(view, clean_frames, near, metric, progress=False)
    moved = exact.values - exact.corrupt_value
    assert moved.abs().max() > 1e-4, "the step should move the metric"
    for estimate in (resid_pre_attribution, resid_pre_attribution_qk):
        result = estimate(view, clean_frames, near, metric)
        assert result.corrupt_value == pytest.approx(exact.corrupt_value, abs=1e-6)
        estimated = result.values - result.corrupt_value
        error = (estimated - moved).abs().max() / moved.abs().max()
        assert error < 0.05, f"{estimate.__name__}: {error:.3f} of the largest effect"


def test_direct_paths_on_the_view_equal_adding_each_heads_difference(setup):
    """`direct_path_head_sweep` against the run it stands for: the corrupt run with one head's
    clean-minus-corrupt output added to the receiver's residual input (receiver 2 of this
    2-layer encoder: the stack's output, which is the last block's `hook_resid_post` on a
    pre-LN block and its LayerNorm's output `hook_normalized_resid_post` on a post-LN one); and
    the heads of a layer add up to the layer's attention output."""
    _, model, clean, corrupt, metric = setup
    view = model.encoder_stream()
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    paths = direct_path_head_sweep(view, clean_frames, corrupt_frames, metric, receiver_layer=2)
    assert paths.values.shape == (2, 4)
    post_ln = not model.config.do_stable_layer_norm
    output = "hook_normalized_resid_post" if post_ln else "hook_resid_post"
    with torch.no_grad():
        _, base = view.run_with_cache(corrupt_frames)
        _, source = view.run_with_cache(clean_frames)
        for layer, head in ((0, 1), (1, 3)):
            sender = Sender(layer, "attn", head)
            delta = sender.output(view, source) - sender.output(view, base)
            add = [(f"blocks.1.{output}", lambda x, hook, delta=delta: x + delta)]
            expected = metric(view.run_with_hooks(corrupt_frames, fwd_hooks=add))
            assert float(paths.values[layer, head]) == pytest.approx(float(expected), abs=1e-4)
        heads = sum(
            Sender(1, "attn", h).output(view, source) - Sender(1, "attn", h).output(view, base)
            for h in range(4)
        )
        whole = source["blocks.1.hook_attn_out"] - base["blocks.1.hook_attn_out"]
    torch.testing.assert_close(heads, whole, atol=1e-5, rtol=1e-5)
