"""Attribution patching: exact to first order (small corruptions), same cells as exact sweeps."""

from __future__ import annotations

import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import resid_pre_attribution, resid_pre_sweep
from tests.conftest import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


def _pearson(a, b):
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a @ b) / (a.norm() * b.norm()))


def test_matches_exact_patching_for_small_corruptions():
    model = HookedWhisper.from_openai_state_dict(DIMS, random_reference(DIMS, seed=8, std=0.15).state_dict())
    gen = torch.Generator().manual_seed(9)
    clean_mel = torch.randn(1, 80, 12, generator=gen)
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    corrupt_tokens = torch.tensor([[50257, 50362, 11, 99, 13]])
    corrupt_mel = clean_mel + 1e-3 * torch.randn(1, 80, 12, generator=gen)
    view = model.encoder_stream(tokens)
    clean, corrupt = mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)
    for direction in ("denoise", "noise"):
        exact = resid_pre_sweep(view, clean, corrupt, logit_diff, direction=direction, progress=False)
        approx = resid_pre_attribution(view, clean, corrupt, logit_diff, direction=direction)
        base = exact.corrupt_value if direction == "denoise" else exact.clean_value
        assert approx.values.shape == exact.values.shape
        assert (exact.values - base).abs().max() > 1e-5
        # First-order exact: estimated effects equal the exact ones up to second-order terms.
        torch.testing.assert_close(approx.values - base, exact.values - base, atol=3e-4, rtol=0.05)
        assert approx.cell_seconds == exact.cell_seconds
    # Decoder side: token corruptions are not small, but patching every position of a layer
    # changes only through the residual stream, so a single-position estimate is finite and
    # the cells line up with the exact sweep.
    view = model.decoder_stream(clean_mel)
    approx = resid_pre_attribution(view, tokens, corrupt_tokens, logit_diff)
    exact = resid_pre_sweep(view, tokens, corrupt_tokens, logit_diff, progress=False)
    assert approx.values.shape == exact.values.shape
    # Positions before the corrupted token are identical in both runs: zero estimated effect.
    torch.testing.assert_close(approx.values[:, :3], torch.full((2, 3), approx.corrupt_value))
    assert _pearson(approx.values, exact.values) > 0.5
