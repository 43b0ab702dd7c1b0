"""Splicing an SAE into HookedWhisper: the error term keeps the model exact, feature edits
change the activation by exactly their decoded difference, the spliced hook points behave like
any other (cache, hooks, gradients), and a feature sweep equals patching by hand."""

from __future__ import annotations

import pytest

pytest.importorskip("sae_lens", reason="SAE tests need SAELens: pip install -e '.[sae]'")

import torch
from sae_lens import StandardSAE, StandardSAEConfig

from hooked_audio.patching import feature_sweep, time_cells
from hooked_audio.sae import SAE_HOOKS, add_sae, remove_saes

pytestmark = pytest.mark.sae

HOOK = "encoder.blocks.1.hook_resid_post"


def random_sae(d_in: int = 384, d_sae: int = 96, seed: int = 0, hook: str = HOOK) -> StandardSAE:
    cfg = StandardSAEConfig(d_in=d_in, d_sae=d_sae)
    cfg.metadata.hook_name = hook
    sae = StandardSAE(cfg)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        sae.W_enc.copy_(torch.randn(d_in, d_sae, generator=generator) * 0.1)
        sae.W_dec.copy_(torch.randn(d_sae, d_in, generator=generator) * 0.1)
        sae.b_enc.copy_(torch.randn(d_sae, generator=generator) * 0.1)
    return sae


@pytest.fixture(scope="module")
def tokens(tiny_en):
    return tiny_en.to_tokens(" And so my fellow Americans")


def test_error_term_leaves_the_model_exact_and_exposes_the_features(tiny_en, jfk_mel, tokens):
    sae = random_sae()
    reference, ref_cache = tiny_en.run_with_cache(jfk_mel, tokens, names_filter=[HOOK])
    with tiny_en.saes([sae], use_error_term=True):
        names = [f"{HOOK}.{h}" for h in SAE_HOOKS]
        assert all(name in tiny_en.hook_dict for name in names)
        logits, cache = tiny_en.run_with_cache(jfk_mel, tokens, names_filter=[HOOK, *names])
    assert torch.equal(logits, reference)
    x = ref_cache[HOOK]
    assert torch.equal(cache[HOOK], x)
    torch.testing.assert_close(cache[f"{HOOK}.hook_sae_acts_post"], sae.encode(x))
    torch.testing.assert_close(cache[f"{HOOK}.hook_sae_recons"], sae.decode(sae.encode(x)))
    torch.testing.assert_close(
        cache[f"{HOOK}.hook_sae_recons"] + cache[f"{HOOK}.hook_sae_error"], x
    )
    assert HOOK in tiny_en.hook_dict and not tiny_en.acts_to_saes  # put back


def test_without_error_term_the_model_runs_on_the_reconstruction(tiny_en, jfk_mel, tokens):
    sae = random_sae()
    _, ref_cache = tiny_en.run_with_cache(jfk_mel, tokens, names_filter=[HOOK])
    recons = sae.decode(sae.encode(ref_cache[HOOK]))
    with torch.no_grad(), tiny_en.hooks(fwd_hooks=[(HOOK, lambda x, hook: recons)]):
        expected = tiny_en(jfk_mel, tokens)
    with tiny_en.saes([sae]):
        logits = tiny_en(jfk_mel, tokens)
    torch.testing.assert_close(logits, expected)
    assert not torch.allclose(logits, tiny_en(jfk_mel, tokens), atol=1e-3)


def test_a_feature_edit_adds_exactly_its_decoded_difference(tiny_en, jfk_mel, tokens):
    sae = random_sae()
    _, ref_cache = tiny_en.run_with_cache(jfk_mel, tokens, names_filter=[HOOK])
    x = ref_cache[HOOK]
    acts = sae.encode(x)
    feature = int(acts.sum(dim=(0, 1)).argmax())
    frames = slice(50, 100)

    def ablate(a, hook):
        a[:, frames, feature] = 0.0
        return a

    with tiny_en.saes([sae], use_error_term=True):
        tiny_en.add_hook(f"{HOOK}.hook_sae_acts_post", ablate)
        _, cache = tiny_en.run_with_cache(jfk_mel, tokens, names_filter=[HOOK])
        tiny_en.reset_hooks()
    expected = x.clone()
    expected[:, frames] -= acts[:, frames, feature, None] * sae.W_dec[feature]
    torch.testing.assert_close(cache[HOOK], expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(cache[HOOK][:, :50], x[:, :50])


def test_gradients_pass_through_the_error_term(tiny_en, jfk_mel, tokens):
    sae = random_sae()

    def grad_of_input():
        mel = jfk_mel.clone().requires_grad_(True)
        tiny_en(mel, tokens)[0, -1].logsumexp(-1).backward()
        return mel.grad

    expected = grad_of_input()
    with tiny_en.saes([sae], use_error_term=True):
        spliced = grad_of_input()
    torch.testing.assert_close(spliced, expected)


def test_splice_errors_name_the_fix(tiny_en):
    with pytest.raises(KeyError, match="not a hook point"):
        add_sae(tiny_en, random_sae(), "encoder.blocks.9.hook_resid_post")
    with pytest.raises(ValueError, match="trained on another hook or model"):
        with tiny_en.saes([random_sae(d_in=100)]):
            tiny_en(torch.zeros(1, 80, 3000), tiny_en.to_tokens(""))
    unnamed = random_sae(hook="")
    with pytest.raises(ValueError, match="hook_name="):
        add_sae(tiny_en, unnamed)
    with tiny_en.saes([random_sae()]):
        with pytest.raises(ValueError, match="already spliced"):
            add_sae(tiny_en, random_sae())
    with pytest.raises(KeyError, match="No SAE is spliced"):
        remove_saes(tiny_en, [HOOK])
    with pytest.raises(TypeError, match="not an SAE"):
        add_sae(tiny_en, torch.nn.Linear(2, 2), HOOK)
    assert not tiny_en.acts_to_saes


def test_feature_sweep_equals_patching_each_feature_by_hand(tiny_en, jfk_mel, jfk_audio):
    sae = random_sae(seed=1)
    tokens = tiny_en.to_tokens(" And so my fellow Americans")
    clean = tiny_en.to_frames(jfk_audio)
    noise = torch.randn(len(jfk_audio), generator=torch.Generator().manual_seed(0)).numpy()
    corrupt = tiny_en.to_frames(jfk_audio + 0.05 * noise, sample_rate=16000)
    cells = time_cells.windows(clean.shape[-1], window_s=1.0, start_s=1.0, end_s=3.0)
    target = tokens[0, -1]

    def metric(logits):
        return logits[:, -2].log_softmax(-1)[:, target].mean()

    features_name = f"{HOOK}.hook_sae_acts_post"
    with tiny_en.saes([sae], use_error_term=True):
        view = tiny_en.encoder_stream(tokens[:, :-1])
        result = feature_sweep(
            view,
            clean,
            corrupt,
            metric,
            "blocks.1.hook_resid_post",
            features=2,
            cells=cells.cells,
            labels=cells.labels,
            progress=False,
        )
        _, clean_cache = tiny_en.run_with_cache(clean, tokens[:, :-1], names_filter=[features_name])
        assert result.row_name == "feature" and len(result.layers) == 2
        for fi, feature in enumerate(result.layers):
            for ci, group in enumerate(result.cells):

                def patch(acts, hook):
                    acts[:, group, feature] = clean_cache[features_name][:, group, feature]
                    return acts

                with torch.no_grad(), tiny_en.hooks(fwd_hooks=[(features_name, patch)]):
                    by_hand = float(metric(tiny_en(corrupt, tokens[:, :-1])))
                assert result.values[fi, ci].item() == pytest.approx(by_hand, abs=1e-4)
    table = result.to_dataframe()
    assert list(table.columns[:1]) == ["feature"]
