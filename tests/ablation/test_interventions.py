"""Ablation and steering hooks against direct computations: a zeroed head equals the model with
that head's output weights zeroed; mean and resample take their values from the reference
pool; steering adds exactly the scaled direction."""

import pytest
import torch

from hooked_audio.interventions import (
    AblationSite,
    ReferencePool,
    ablation_hook,
    collect_reference_pools,
    steering_hook,
)

SITE = AblationSite("decoder.self_heads", 1, 2, "decoder.blocks.1.attn.hook_z")


def _pool(vectors: torch.Tensor) -> ReferencePool:
    pool = ReferencePool(SITE)
    z = torch.zeros(1, len(vectors), 4, vectors.shape[1])
    z[0, :, SITE.head] = vectors
    pool.add(z)
    return pool


def test_zero_ablation_replaces_only_its_head():
    z = torch.randn(2, 5, 4, 3)
    out = ablation_hook(SITE, "zero")(z)
    assert out.shape == z.shape and out.dtype == z.dtype
    assert torch.equal(out[:, :, SITE.head], torch.zeros(2, 5, 3))
    others = [h for h in range(4) if h != SITE.head]
    assert torch.equal(out[:, :, others], z[:, :, others])
    assert not torch.equal(z[:, :, SITE.head], torch.zeros(2, 5, 3))  # the input is untouched


def test_mean_and_resample_draw_on_the_reference_pool():
    vectors = torch.randn(7, 3)
    pool = _pool(vectors)
    assert torch.allclose(pool.mean, vectors.mean(0))
    z = torch.randn(2, 5, 4, 3)
    mean = ablation_hook(SITE, "mean", pool)(z)
    assert torch.allclose(mean[:, :, SITE.head], vectors.mean(0).expand(2, 5, 3))
    resampled = ablation_hook(SITE, "resample", pool, seed=3)(z)[:, :, SITE.head].reshape(-1, 3)
    distances = torch.cdist(resampled, vectors)
    assert torch.all(distances.min(1).values < 1e-6)  # every value is one of the pool's
    again = ablation_hook(SITE, "resample", pool, seed=3)(z)[:, :, SITE.head].reshape(-1, 3)
    assert torch.equal(resampled, again)  # seeded


def test_pool_keeps_at_most_max_vectors_but_an_exact_mean():
    pool = ReferencePool(SITE, max_vectors=5)
    vectors = torch.randn(40, 3)
    for part in vectors.split(8):
        z = torch.zeros(1, len(part), 4, 3)
        z[0, :, SITE.head] = part
        pool.add(z)
    assert pool.count == 40 and len(pool.vectors) == 5
    assert torch.allclose(pool.mean, vectors.mean(0), atol=1e-6)


def test_zeroed_head_equals_zeroed_output_weights(tiny_en, jfk_mel):
    """Independent check: a head's z only reaches the residual stream through its rows of W_O."""
    tokens = torch.tensor([tiny_en.tokenizer.sot_sequence_including_notimestamps])
    with torch.no_grad():
        hooked = tiny_en.run_with_hooks(
            jfk_mel, tokens, fwd_hooks=[(SITE.hook_name, ablation_hook(SITE))]
        )
        attn = tiny_en.decoder.blocks[SITE.layer].attn
        saved = attn.W_O.data[SITE.head].clone()
        attn.W_O.data[SITE.head] = 0
        try:
            direct = tiny_en(jfk_mel, tokens)
        finally:
            attn.W_O.data[SITE.head] = saved
    assert torch.allclose(hooked, direct, atol=1e-4)
    with torch.no_grad():
        assert not torch.allclose(hooked, tiny_en(jfk_mel, tokens), atol=1e-3)


class _Transcriber:
    """Runs each hook once on `seen`; `live` is what `live_positions` answers."""

    def __init__(self, seen: torch.Tensor | None, live: torch.Tensor | None = None):
        self.seen, self.live = seen, live

    def __call__(self, hooks):
        for name, fn in hooks:
            assert name == SITE.hook_name
            if self.seen is not None:
                fn(self.seen)

    def live_positions(self, hook_name):
        return self.live


def test_collected_pools_hold_what_the_hook_saw():
    seen = torch.randn(3, 6, 4, 2)
    pools = collect_reference_pools([SITE], _Transcriber(seen))
    assert torch.allclose(pools[SITE.key].mean, seen[:, :, SITE.head].reshape(-1, 2).mean(0))
    with pytest.raises(ValueError, match="never ran"):
        collect_reference_pools([SITE], _Transcriber(None))


def test_collected_pools_leave_out_positions_that_are_not_live():
    seen = torch.randn(3, 6, 4, 2)
    live = torch.ones(3, 6, dtype=torch.bool)
    live[1, 4:] = False  # row 1's transcript ended after 4 positions
    live[2, 2:] = False
    pools = collect_reference_pools([SITE], _Transcriber(seen, live))
    kept = seen[:, :, SITE.head][live]
    assert pools[SITE.key].count == 6 + 4 + 2 == len(kept)
    assert torch.allclose(pools[SITE.key].mean, kept.mean(0))
    assert torch.allclose(pools[SITE.key].vectors, kept)  # every kept vector, in order
    with pytest.raises(ValueError, match="live-position mask has shape"):
        collect_reference_pools([SITE], _Transcriber(seen, live[:, :5]))


def test_ablation_errors_name_the_fix():
    with pytest.raises(ValueError, match="Unknown ablation"):
        ablation_hook(SITE, "shuffle")
    with pytest.raises(ValueError, match="reference"):
        ablation_hook(SITE, "mean")
    with pytest.raises(ValueError, match="head 2 of 2 heads"):
        ablation_hook(SITE)(torch.randn(1, 3, 2, 4))


def test_steering_adds_the_scaled_unit_direction_at_the_positions():
    x = torch.randn(2, 6, 4)
    direction = torch.tensor([3.0, 0.0, 4.0, 0.0])
    out = steering_hook(direction, 2.0, positions=[1, 4])(x)
    expected = x.clone()
    expected[:, [1, 4]] += 2.0 * direction / 5.0
    assert torch.allclose(out, expected)
    raw = steering_hook(direction, 2.0, normalise=False)(x)
    assert torch.allclose(raw, x + 2.0 * direction)


def test_steering_errors_name_the_problem():
    with pytest.raises(ValueError, match="all zeros"):
        steering_hook(torch.zeros(4), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        steering_hook(torch.tensor([1.0, float("nan")]), 1.0)
    with pytest.raises(ValueError, match="has 4 entries"):
        steering_hook(torch.ones(4), 1.0)(torch.randn(1, 3, 5))
    with pytest.raises(ValueError, match="outside the 3 positions"):
        steering_hook(torch.ones(4), 1.0, positions=[5])(torch.randn(1, 3, 4))
