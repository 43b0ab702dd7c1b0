"""Integrated-gradients estimates of per-head sweeps: for every head of a layer together they
add up to the exact patch of the whole layer's heads (completeness), on a small corruption each
head and cell agrees with `head_sweep` to first order, and the cells and labels are
`head_sweep`'s."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import (
    head_integrated_gradients,
    head_sweep,
    layer_sweep,
    verify_top_head_cells,
)
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
GROUPS = [[0, 1], [2, 3, 4], [5]]
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


def model_with(std: float) -> HookedWhisper:
    return HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=23, std=std).state_dict()
    )


def mels(scale: float):
    gen = torch.Generator().manual_seed(6)
    clean = torch.randn(1, 80, 12, generator=gen)
    return clean, clean + scale * torch.randn(1, 80, 12, generator=gen)


def encoder_setup(model, scale):
    clean, corrupt = (mel_to_frames(m) for m in mels(scale))
    view = model.encoder_stream(TOKENS)
    _, source_cache = view.run_with_cache(clean)
    return view, corrupt, source_cache


def test_all_heads_add_up_to_the_layers_attention_output():
    """Every head of a layer over every position: the estimates' sum converges to the exact
    patch of the layer's whole attention output (what all its heads' z determine)."""
    model = model_with(std=0.3)
    view, corrupt, source_cache = encoder_setup(model, scale=2.0)
    clean = mel_to_frames(mels(2.0)[0])
    exact = layer_sweep(
        view, clean, corrupt, logit_diff, act="attn_out", cells=[list(range(6))], progress=False
    )
    moved = (exact.values[:, 0] - exact.corrupt_value).abs()
    assert moved.max() > 0.01
    errors = {}
    for steps in (4, 64):
        estimate = head_integrated_gradients(
            view, corrupt, source_cache, logit_diff, "attn", "z", steps=steps, progress=False
        )
        assert estimate.values.shape == (DIMS.n_audio_layer, DIMS.n_audio_head)
        summed = (estimate.values - exact.corrupt_value).sum(dim=1) + exact.corrupt_value
        errors[steps] = (summed - exact.values[:, 0]).abs().max().item()
    assert errors[64] < 2e-3 * moved.max().item() + 1e-6 and errors[64] < errors[4]


def test_first_order_agreement_with_head_sweep_encoder_and_cross_attention():
    model = model_with(std=0.15)
    view, corrupt, source_cache = encoder_setup(model, scale=1e-3)
    kwargs = dict(positions=GROUPS, position_labels=["a", "b", "c"], progress=False)
    exact = head_sweep(view, corrupt, source_cache, logit_diff, "attn", "z", **kwargs)
    estimate = head_integrated_gradients(
        view, corrupt, source_cache, logit_diff, "attn", "z", steps=2, batch_size=1, **kwargs
    )
    with torch.no_grad():
        base = float(logit_diff(view(corrupt)))
    assert (exact.values - base).abs().max() > 1e-6
    torch.testing.assert_close(estimate.values - base, exact.values - base, atol=2e-5, rtol=0.05)
    assert estimate.cell_labels == exact.cell_labels and estimate.cells == exact.cells
    assert "integrated gradients" in estimate.act

    clean_mel, corrupt_mel = mels(1e-3)
    base_view = model.decoder_stream(corrupt_mel)
    _, source_cache = model.decoder_stream(clean_mel).run_with_cache(TOKENS)
    exact = head_sweep(
        base_view, TOKENS, source_cache, logit_diff, "cross_attn", ("k", "v"), **kwargs
    )
    estimate = head_integrated_gradients(
        base_view, TOKENS, source_cache, logit_diff, "cross_attn", ("k", "v"), steps=2, **kwargs
    )
    with torch.no_grad():
        base = float(logit_diff(base_view(TOKENS)))
    assert (exact.values - base).abs().max() > 1e-6
    torch.testing.assert_close(estimate.values - base, exact.values - base, atol=2e-5, rtol=0.05)


def test_bad_arguments():
    model = model_with(std=0.15)
    view, corrupt, source_cache = encoder_setup(model, scale=1.0)
    with pytest.raises(ValueError, match="pattern"):
        head_integrated_gradients(view, corrupt, source_cache, logit_diff, "attn", "pattern")
    with pytest.raises(ValueError, match="component must be one of"):
        head_integrated_gradients(view, corrupt, source_cache, logit_diff, "mlp", "z")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        head_integrated_gradients(view, corrupt, source_cache, logit_diff, "attn", "z", steps=0)
    with pytest.raises(ValueError, match="Layers must lie in"):
        head_integrated_gradients(
            view, corrupt, source_cache, logit_diff, "attn", "z", layers=[DIMS.n_audio_layer]
        )


def test_verified_head_cells_are_head_sweeps_values():
    """The top head cells of an estimate patched exactly equal head_sweep's values there; the
    rest keep the estimate; an estimate of other cells is refused."""
    model = model_with(std=0.3)
    view, corrupt, source_cache = encoder_setup(model, scale=2.0)
    kwargs = dict(positions=GROUPS, position_labels=["a", "b", "c"], progress=False)
    exact = head_sweep(view, corrupt, source_cache, logit_diff, "attn", "z", **kwargs)
    estimate = head_integrated_gradients(
        view, corrupt, source_cache, logit_diff, "attn", "z", steps=4, **kwargs
    )
    verified = verify_top_head_cells(
        view, corrupt, source_cache, logit_diff, estimate, "attn", "z", top_k=5, **kwargs
    )
    assert int(verified.exact.sum()) == 5 == verified.metadata["exact_runs"]
    torch.testing.assert_close(
        verified.values[verified.exact], exact.values[verified.exact], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(verified.values[~verified.exact], estimate.values[~verified.exact])
    with torch.no_grad():
        base_value = float(logit_diff(view(corrupt)))
    chosen = (estimate.values - base_value).abs().flatten().argsort(descending=True)[:5]
    assert set(chosen.tolist()) == set(verified.exact.flatten().nonzero()[:, 0].tolist())
    with pytest.raises(ValueError, match="pass the positions"):
        verify_top_head_cells(view, corrupt, source_cache, logit_diff, estimate, "attn", "z")
    with pytest.raises(ValueError, match="share=F needs"):
        verify_top_head_cells(
            view,
            corrupt,
            source_cache,
            logit_diff,
            estimate,
            "attn",
            "z",
            top_k=None,
            share=0.5,
            positions=GROUPS,
        )
