"""Integrated-gradients patching: its attributions add up to the exact effect of patching the
whole layer as the path is refined (completeness), it is exact to first order like plain
attribution, and batching the path changes nothing."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import layer_sweep, resid_pre_attribution, resid_pre_sweep
from hooked_audio.patching.integrated_gradients import (
    integrated_gradients,
    path_points,
    resid_pre_integrated_gradients,
)
from tests.helpers.type_checks import unchecked_types
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def model():
    return HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=8, std=0.15).state_dict()
    )


@pytest.fixture(scope="module")
def sensitive_model():
    """Larger weights: the metric moves between the clips (by 0.16), far from linearly."""
    return HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=8, std=0.3).state_dict()
    )


def clips(scale: float):
    gen = torch.Generator().manual_seed(9)
    clean_mel = torch.randn(1, 80, 12, generator=gen)
    corrupt_mel = clean_mel + scale * torch.randn(1, 80, 12, generator=gen)
    return mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)


@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_attributions_add_up_to_the_whole_layers_patch(sensitive_model, direction):
    """One cell holding every position: the estimate converges to the exact patch of the
    whole layer as the path is refined, the midpoint rule's error falling about as 1 / steps^2
    (here 4 steps are 25% off, 64 steps under 0.1%)."""
    view = sensitive_model.encoder_stream(TOKENS)
    clean, corrupt = clips(scale=2.0)  # a large corruption: far from first order
    everything = [list(range(6))]
    exact = resid_pre_sweep(
        view, clean, corrupt, logit_diff, direction=direction, cells=everything, progress=False
    )
    base = exact.corrupt_value if direction == "denoise" else exact.clean_value
    assert (exact.values - base).abs().min() > 0.05  # every layer's patch moves the metric
    errors = {}
    for steps in (4, 16, 64):
        estimate = resid_pre_integrated_gradients(
            view,
            clean,
            corrupt,
            logit_diff,
            direction,
            cells=everything,
            steps=steps,
            progress=False,
        )
        errors[steps] = (estimate.values - exact.values).abs().max().item()
    assert errors[64] < 2e-3 * (exact.values - base).abs().max().item()
    assert errors[64] < errors[16] / 4 < errors[4] / 16
    first_order = resid_pre_attribution(
        view, clean, corrupt, logit_diff, direction, cells=everything
    )
    assert errors[16] < (first_order.values - exact.values).abs().max().item()


@pytest.mark.parametrize("act", ["attn_out", "mlp_out", "resid_mid"])
def test_other_layer_activations_add_up_too(sensitive_model, act):
    """The same completeness through a hook that substitutes the path point: IG of `act` with
    one all-positions cell converges to `layer_sweep(act=act)` patching the whole layer."""
    view = sensitive_model.encoder_stream(TOKENS)
    clean, corrupt = clips(scale=2.0)
    everything = [list(range(6))]
    exact = layer_sweep(view, clean, corrupt, logit_diff, act=act, cells=everything, progress=False)
    moved = (exact.values - exact.corrupt_value).abs()
    assert moved.max() > 0.01
    errors = [
        (
            integrated_gradients(
                view,
                clean,
                corrupt,
                logit_diff,
                act,
                cells=everything,
                steps=steps,
                progress=False,
            ).values
            - exact.values
        )
        .abs()
        .max()
        .item()
        for steps in (4, 64)
    ]
    assert errors[1] < 2e-3 * moved.max().item() + 1e-6 and errors[1] < errors[0]


def test_exact_to_first_order_and_batching_changes_nothing(model):
    view = model.encoder_stream(TOKENS)
    clean, corrupt = clips(scale=1e-3)
    exact = resid_pre_sweep(view, clean, corrupt, logit_diff, progress=False)
    whole = resid_pre_integrated_gradients(
        view, clean, corrupt, logit_diff, steps=4, progress=False
    )
    base = exact.corrupt_value
    assert (exact.values - base).abs().max() > 1e-5
    torch.testing.assert_close(whole.values - base, exact.values - base, atol=3e-4, rtol=0.05)
    assert whole.cell_seconds == exact.cell_seconds and whole.cell_labels == exact.cell_labels
    chunked = resid_pre_integrated_gradients(
        view, clean, corrupt, logit_diff, steps=4, batch_size=3, progress=False
    )
    torch.testing.assert_close(chunked.values, whole.values, atol=1e-6, rtol=1e-5)


def test_the_decoder_stream_and_bad_arguments(model):
    gen = torch.Generator().manual_seed(3)
    view = model.decoder_stream(torch.randn(1, 80, 12, generator=gen))
    corrupt_tokens = torch.tensor([[50257, 50362, 11, 99, 13]])
    estimate = resid_pre_integrated_gradients(
        view, TOKENS, corrupt_tokens, logit_diff, steps=4, progress=False
    )
    # positions before the changed token are the same in both runs: no attribution
    torch.testing.assert_close(estimate.values[:, :3], torch.full((2, 3), estimate.corrupt_value))
    assert path_points(4).tolist() == [0.125, 0.375, 0.625, 0.875]
    for bad in (0, 1.5, True):
        with unchecked_types(), pytest.raises(ValueError, match="steps must be an integer >= 1"):
            resid_pre_integrated_gradients(view, TOKENS, corrupt_tokens, logit_diff, steps=bad)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        resid_pre_integrated_gradients(view, TOKENS, corrupt_tokens, logit_diff, batch_size=0)
    with pytest.raises(ValueError, match="act must be one of"):
        integrated_gradients(view, TOKENS, corrupt_tokens, logit_diff, act="hook_z")


def test_the_input_path(sensitive_model, model):
    """One path for all layers (EAP-IG's): at the first patched layer it is that layer's own
    path, so the two agree there; on a small corruption every layer is exact to first order;
    and it rejects an unknown path."""
    view = sensitive_model.encoder_stream(TOKENS)
    clean, corrupt = clips(scale=2.0)
    for act, layers in (("resid_pre", [0, 1]), ("resid_pre", [1]), ("mlp_out", [1])):
        per_layer, one_path = (
            integrated_gradients(
                view,
                clean,
                corrupt,
                logit_diff,
                act,
                layers=layers,
                steps=4,
                progress=False,
                path=path,
            )
            for path in ("layer", "input")
        )
        if act == "resid_pre":
            torch.testing.assert_close(one_path.values[0], per_layer.values[0])
        assert one_path.values.isfinite().all()
        assert "input path" in one_path.act and "layer path" in per_layer.act
    # layer 1 on the input path is not its own path's estimate: the path is curved there
    both = integrated_gradients(
        view, clean, corrupt, logit_diff, steps=4, progress=False, path="input"
    )
    alone = integrated_gradients(view, clean, corrupt, logit_diff, steps=4, progress=False)
    assert (both.values[1] - alone.values[1]).abs().max() > 1e-4

    small_view = model.encoder_stream(TOKENS)
    clean, corrupt = clips(scale=1e-3)
    exact = resid_pre_sweep(small_view, clean, corrupt, logit_diff, progress=False)
    estimate = resid_pre_integrated_gradients(
        small_view, clean, corrupt, logit_diff, steps=2, progress=False, path="input"
    )
    base = exact.corrupt_value
    torch.testing.assert_close(estimate.values - base, exact.values - base, atol=3e-4, rtol=0.05)
    chunked = resid_pre_integrated_gradients(
        small_view, clean, corrupt, logit_diff, steps=4, batch_size=3, progress=False, path="input"
    )
    whole = resid_pre_integrated_gradients(
        small_view, clean, corrupt, logit_diff, steps=4, progress=False, path="input"
    )
    torch.testing.assert_close(chunked.values, whole.values, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="path must be one of"):
        integrated_gradients(small_view, clean, corrupt, logit_diff, path="straight")
