"""Attribute, then verify: the verified cells carry exactly the fast engine's values, the others
the estimate's, `exact` says which; the stop rules stop where they say."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import resid_pre_attribution, resid_pre_sweep
from hooked_audio.patching.verified import verify_top_cells
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    model = HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=8, std=0.3).state_dict()
    )
    gen = torch.Generator().manual_seed(9)
    clean_mel = torch.randn(1, 80, 12, generator=gen)
    corrupt_mel = clean_mel + 2.0 * torch.randn(1, 80, 12, generator=gen)
    view = model.encoder_stream(TOKENS)
    return view, mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)


@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_top_k_cells_are_exact_and_the_rest_is_the_estimate(setup, direction):
    view, clean, corrupt = setup
    exact = resid_pre_sweep(view, clean, corrupt, logit_diff, direction=direction, progress=False)
    estimate = resid_pre_attribution(view, clean, corrupt, logit_diff, direction=direction)
    verified = verify_top_cells(
        view, clean, corrupt, logit_diff, estimate, top_k=5, batch_size=2, progress=False
    )
    assert int(verified.exact.sum()) == 5 == verified.metadata["exact_runs"]
    base = estimate.corrupt_value if direction == "denoise" else estimate.clean_value
    effect = (estimate.values - base).abs()
    # the five largest estimated effects over the whole map are the verified ones
    assert effect[verified.exact].min() >= effect[~verified.exact].max()
    torch.testing.assert_close(verified.values[verified.exact], exact.values[verified.exact])
    assert torch.equal(verified.values[~verified.exact], estimate.values[~verified.exact])
    assert verified.cells == exact.cells and verified.cell_seconds == exact.cell_seconds


def test_share_rule_stops_once_the_verified_cells_explain_enough(setup):
    view, clean, corrupt = setup
    exact = resid_pre_sweep(view, clean, corrupt, logit_diff, progress=False)
    estimate = resid_pre_attribution(view, clean, corrupt, logit_diff)
    total = estimate.clean_value - estimate.corrupt_value
    verified = verify_top_cells(
        view,
        clean,
        corrupt,
        logit_diff,
        estimate,
        top_k=None,
        share=0.5,
        batch_size=1,
        progress=False,
    )
    for li in range(len(verified.layers)):
        ranked = (estimate.values[li] - estimate.corrupt_value).abs().argsort(descending=True)
        cells = ranked[: int(verified.exact[li].sum())]  # in the order they were verified
        explained = float((exact.values[li, cells] - estimate.corrupt_value).sum())
        one_fewer = explained - float(exact.values[li, cells[-1]] - estimate.corrupt_value)
        # verified in estimate order, and stopped at the first cell that reached the share
        assert verified.exact[li, cells].all()
        assert abs(explained) >= 0.5 * abs(total) or len(cells) == exact.values.shape[1]
        assert len(cells) == 1 or abs(one_fewer) < 0.5 * abs(total)
    capped = verify_top_cells(
        view,
        clean,
        corrupt,
        logit_diff,
        estimate,
        top_k=None,
        share=1.0,
        max_cells=2,
        progress=False,
    )
    assert (capped.exact.sum(dim=1) <= 2).all()


def test_bad_arguments_and_a_foreign_estimate_are_refused(setup):
    view, clean, corrupt = setup
    estimate = resid_pre_attribution(view, clean, corrupt, logit_diff)
    with pytest.raises(ValueError, match="Give one stop rule"):
        verify_top_cells(view, clean, corrupt, logit_diff, estimate, top_k=3, share=0.5)
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        verify_top_cells(view, clean, corrupt, logit_diff, estimate, top_k=0)
    with pytest.raises(ValueError, match=r"share must lie in \(0, 1\]"):
        verify_top_cells(view, clean, corrupt, logit_diff, estimate, top_k=None, share=1.5)
    with pytest.raises(ValueError, match="verify an estimate made on the same"):
        verify_top_cells(view, corrupt, clean, logit_diff, estimate, progress=False)


def test_a_magnitude_estimate_ranks_and_its_unverified_cells_are_nan(setup):
    """GradDrop's values are magnitudes: they choose the cells (largest first), the verified
    cells are the fast engine's values, and every other cell is NaN, not a magnitude passed off
    as a metric value."""
    from hooked_audio.patching import resid_pre_attribution_graddrop

    view, clean, corrupt = setup
    exact = resid_pre_sweep(view, clean, corrupt, logit_diff, progress=False)
    estimate = resid_pre_attribution_graddrop(view, clean, corrupt, logit_diff)
    assert estimate.metadata["magnitude"]
    verified = verify_top_cells(view, clean, corrupt, logit_diff, estimate, top_k=4, progress=False)
    chosen = set(estimate.values.flatten().argsort(descending=True)[:4].tolist())
    assert set(verified.exact.flatten().nonzero()[:, 0].tolist()) == chosen
    torch.testing.assert_close(
        verified.values[verified.exact], exact.values[verified.exact], atol=1e-5, rtol=0
    )
    assert verified.values[~verified.exact].isnan().all()
    assert "magnitude" not in verified.metadata
