"""Integrated gradients combined with AtP*'s QK fix (`integrated_gradients(qk_fix=True)`):
exact where the metric reads the patched layer only through its attention pattern, linearly;
equal to plain integrated gradients where the layer's queries and keys cannot move its pattern;
exact to first order; batching the path changes nothing; wrong combinations are refused."""

from __future__ import annotations

import copy

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import resid_pre_sweep
from hooked_audio.patching.integrated_gradients import integrated_gradients
from tests.helpers.type_checks import unchecked_types
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])
CORRUPT_TOKENS = torch.tensor([[50257, 50362, 11, 99, 13]])


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


def whisper(std: float) -> HookedWhisper:
    return HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=8, std=std).state_dict()
    )


def clips(scale: float):
    gen = torch.Generator().manual_seed(11)
    clean_mel = torch.randn(1, 80, 12, generator=gen)
    corrupt_mel = clean_mel + scale * torch.randn(1, 80, 12, generator=gen)
    return clean_mel, corrupt_mel


def cases(model: HookedWhisper, scale: float):
    """(view, clean, corrupt) on the encoder (frames) and on the decoder (tokens; causal)."""
    clean_mel, corrupt_mel = clips(scale)
    return [
        (model.encoder_stream(TOKENS), mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)),
        (model.decoder_stream(clean_mel), TOKENS, CORRUPT_TOKENS),
    ]


def ig(view, clean, corrupt, metric, qk_fix, **kwargs):
    kwargs = {"steps": 4, "progress": False, **kwargs}
    return integrated_gradients(view, clean, corrupt, metric, qk_fix=qk_fix, **kwargs)


def test_exact_for_a_metric_linear_in_the_patched_layers_pattern():
    """The metric reads layer 1's attention pattern, linearly: with the pattern held at the
    base run's, the path integral is zero and the QK fix's exact pattern change is the whole
    effect of each cell; plain integrated gradients (the softmax integrated along a straight
    line) is not exact."""
    gen = torch.Generator().manual_seed(12)
    for view, clean, corrupt in cases(whisper(std=0.3), scale=1.5):
        n = clean.shape[-1]
        weights = torch.randn(1, DIMS.n_audio_head, n, n, generator=gen)
        captured = {}
        capture = ("blocks.1.attn.hook_pattern", lambda x, hook: captured.__setitem__("p", x))

        def metric(logits):  # the pattern of this run's rows, whatever the batch
            return (captured["p"] * weights).sum() / logits.shape[0] + 0.0 * logits.sum()

        with view.hooks(fwd_hooks=[capture]):
            exact = resid_pre_sweep(view, clean, corrupt, metric, layers=[1], progress=False)
            fixed = ig(view, clean, corrupt, metric, True, layers=[1], steps=1)
            plain = ig(view, clean, corrupt, metric, False, layers=[1])
        # The metric reads a hook, not its logits, so a value computed on stored logits later
        # (the base run's, read after the source run) is stale: compare the cells' effects
        # relative to cell 0, which come from the path runs alone.
        relative = lambda result: result.values - result.values[:, :1]  # noqa: E731
        torch.testing.assert_close(relative(fixed), relative(exact), atol=1e-4, rtol=1e-4)
        assert (relative(plain) - relative(exact)).abs().max() > 1e-3
        assert "QK fix" in fixed.act and "QK fix" not in plain.act


def test_equal_to_integrated_gradients_where_the_pattern_cannot_move():
    """Zero queries at layer 1: its pattern is uniform whatever its residual stream, so the QK
    fix adds nothing and holding the scores changes nothing."""
    model = copy.deepcopy(whisper(std=0.3))
    for attn in (model.encoder.blocks[1].attn, model.decoder.blocks[1].attn):
        with torch.no_grad():
            attn.W_Q.zero_()
            attn.b_Q.zero_()
    for view, clean, corrupt in cases(model, scale=1.5):
        for direction in ("denoise", "noise"):
            fixed, plain = (
                ig(view, clean, corrupt, logit_diff, qk, direction=direction)
                for qk in (True, False)
            )
            torch.testing.assert_close(fixed.values[1], plain.values[1], atol=1e-5, rtol=1e-5)
            # layer 0's pattern does move: there the two differ
            assert (fixed.values[0] - plain.values[0]).abs().max() > 1e-5


def test_exact_to_first_order_and_batching_changes_nothing():
    for view, clean, corrupt in cases(whisper(std=0.15), scale=1e-3)[:1]:
        exact = resid_pre_sweep(view, clean, corrupt, logit_diff, progress=False)
        fixed = ig(view, clean, corrupt, logit_diff, True, steps=2)
        base = exact.corrupt_value
        torch.testing.assert_close(fixed.values - base, exact.values - base, atol=3e-4, rtol=0.05)
    for view, clean, corrupt in cases(whisper(std=0.3), scale=1.5):
        whole = ig(view, clean, corrupt, logit_diff, True)
        chunked = ig(view, clean, corrupt, logit_diff, True, batch_size=3)
        torch.testing.assert_close(chunked.values, whole.values, atol=1e-5, rtol=1e-5)
        assert whole.values.isfinite().all()


def test_refuses_what_it_cannot_fix():
    view, clean, corrupt = cases(whisper(std=0.15), scale=1.0)[0]
    with pytest.raises(ValueError, match="needs act='resid_pre' and path='layer'"):
        ig(view, clean, corrupt, logit_diff, True, act="mlp_out")
    with pytest.raises(ValueError, match="needs act='resid_pre' and path='layer'"):
        ig(view, clean, corrupt, logit_diff, True, path="input")
    with unchecked_types(), pytest.raises(TypeError, match="qk_fix must be True or False"):
        ig(view, clean, corrupt, logit_diff, "yes")
