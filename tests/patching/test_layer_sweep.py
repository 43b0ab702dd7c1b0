"""The fast sweep engine equals TransformerLens's own loop, in both directions, and keeps
the patching invariants."""

from __future__ import annotations

import pytest
import torch
import transformer_lens.patching as tlp

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import resid_pre_sweep
from tests.helpers.type_checks import unchecked_types
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12, n_audio_layer=3)


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    model = HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=4, std=0.15).state_dict()
    )
    gen = torch.Generator().manual_seed(3)
    clean_mel = torch.randn(2, DIMS.n_mels, 2 * DIMS.n_audio_ctx, generator=gen)
    corrupt_mel = clean_mel.clone()
    corrupt_mel[..., 2:9] += 2 * torch.randn(2, DIMS.n_mels, 7, generator=gen)
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    corrupt_tokens = torch.tensor([[50257, 50362, 11, 99, 13]])
    return model, clean_mel, corrupt_mel, tokens, corrupt_tokens


def _streams(setup):
    model, clean_mel, corrupt_mel, tokens, corrupt_tokens = setup
    yield model.encoder_stream(tokens), mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)
    yield model.decoder_stream(clean_mel[:1]), tokens, corrupt_tokens


@pytest.mark.parametrize("direction", ["denoise", "noise"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_equals_transformer_lens_loop(setup, direction, batch_size):
    for view, clean, corrupt in _streams(setup):
        base, source = (corrupt, clean) if direction == "denoise" else (clean, corrupt)
        with torch.no_grad():
            _, source_cache = view.run_with_cache(source)
            expected = tlp.get_act_patch_resid_pre(view, base, source_cache, logit_diff)
        result = resid_pre_sweep(
            view,
            clean,
            corrupt,
            logit_diff,
            direction=direction,
            batch_size=batch_size,
            progress=False,
        )
        torch.testing.assert_close(result.values, expected, atol=1e-4, rtol=0)
        with torch.no_grad():
            assert result.clean_value == pytest.approx(float(logit_diff(view(clean))), abs=1e-5)
            assert result.corrupt_value == pytest.approx(float(logit_diff(view(corrupt))), abs=1e-5)


def test_invariants_all_positions_and_clean_to_clean(setup):
    for view, clean, corrupt in _streams(setup):
        every = [list(range(clean.shape[-1]))]
        denoised = resid_pre_sweep(view, clean, corrupt, logit_diff, cells=every, progress=False)
        noised = resid_pre_sweep(
            view, clean, corrupt, logit_diff, direction="noise", cells=every, progress=False
        )
        # Patching every position of a layer's residual stream replays the other run exactly.
        torch.testing.assert_close(
            denoised.values[:, 0],
            torch.full((view.cfg.n_layers,), denoised.clean_value),
            atol=1e-4,
            rtol=0,
        )
        torch.testing.assert_close(
            noised.values[:, 0],
            torch.full((view.cfg.n_layers,), noised.corrupt_value),
            atol=1e-4,
            rtol=0,
        )
        torch.testing.assert_close(
            denoised.normalised()[:, 0], torch.ones(view.cfg.n_layers), atol=1e-3, rtol=0
        )
        same = resid_pre_sweep(view, clean, clean, logit_diff, progress=False)
        torch.testing.assert_close(
            same.values, torch.full_like(same.values, same.clean_value), atol=1e-4, rtol=0
        )


def test_windows_and_time_axis(setup):
    model, clean_mel, corrupt_mel, tokens, _ = setup
    view = model.encoder_stream(tokens)
    result = resid_pre_sweep(
        view,
        mel_to_frames(clean_mel),
        mel_to_frames(corrupt_mel),
        logit_diff,
        layers=[1],
        cells=[slice(0, 3), slice(3, 6)],
        progress=False,
    )
    assert result.values.shape == (1, 2)
    step = model.window_seconds / DIMS.n_audio_ctx
    assert result.cell_seconds == [(0.0, 3 * step), (3 * step, 6 * step)]
    frame = result.to_dataframe()
    assert list(frame["layer"]) == [1, 1] and frame["start_s"].iloc[1] == pytest.approx(3 * step)


def test_bad_input(setup):
    model, clean_mel, _, tokens, corrupt_tokens = setup
    view = model.decoder_stream(clean_mel[:1])
    with unchecked_types(), pytest.raises(ValueError, match="differ in shape"):
        resid_pre_sweep(view, tokens, corrupt_tokens[:, :4], logit_diff)
    with pytest.raises(ValueError, match="must return a scalar"):
        resid_pre_sweep(view, tokens, corrupt_tokens, lambda l: l[:, -1, 7], progress=False)
    with unchecked_types(), pytest.raises(ValueError, match="direction must be"):
        resid_pre_sweep(view, tokens, corrupt_tokens, logit_diff, direction="forward")
    with pytest.raises(ValueError, match="Layers must lie"):
        resid_pre_sweep(view, tokens, corrupt_tokens, logit_diff, layers=[5])


def test_plot_has_time_axis(setup, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    model, clean_mel, corrupt_mel, tokens, _ = setup
    result = resid_pre_sweep(
        model.encoder_stream(tokens),
        mel_to_frames(clean_mel),
        mel_to_frames(corrupt_mel),
        logit_diff,
        progress=False,
    )
    ax = result.plot()
    assert ax.get_xlabel() == "time (s)"
    ax.figure.savefig(tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "act, stock",
    [
        ("attn_out", tlp.get_act_patch_attn_out),
        ("mlp_out", tlp.get_act_patch_mlp_out),
        ("resid_mid", tlp.get_act_patch_resid_mid),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_other_activations_equal_transformer_lens_loop(setup, act, stock, batch_size):
    from hooked_audio.patching import layer_sweep

    for view, clean, corrupt in _streams(setup):
        with torch.no_grad():
            _, clean_cache = view.run_with_cache(clean)
            expected = stock(view, corrupt, clean_cache, logit_diff)
        result = layer_sweep(
            view, clean, corrupt, logit_diff, act=act, batch_size=batch_size, progress=False
        )
        torch.testing.assert_close(result.values, expected, atol=1e-4, rtol=0)


def test_cross_attention_output_sweep_on_the_decoder(setup):
    from hooked_audio.patching import layer_sweep

    model, clean_mel, _, tokens, corrupt_tokens = setup
    view = model.decoder_stream(clean_mel[:1])
    result = layer_sweep(
        view, tokens, corrupt_tokens, logit_diff, act="cross_attn_out", progress=False
    )
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(tokens)
    for layer, pos in ((0, 3), (1, 4)):

        def patch(x, hook, pos=pos, layer=layer):
            x = x.clone()
            x[:, pos] = clean_cache[f"blocks.{layer}.hook_cross_attn_out"][:, pos]
            return x

        with torch.no_grad():
            expected = logit_diff(
                view.run_with_hooks(
                    corrupt_tokens, fwd_hooks=[(f"blocks.{layer}.hook_cross_attn_out", patch)]
                )
            )
        assert float(result.values[layer, pos]) == pytest.approx(float(expected), abs=1e-4)
    with pytest.raises(ValueError, match="no 'blocks.0.hook_cross_attn_out'"):
        layer_sweep(
            model.encoder_stream(tokens),
            mel_to_frames(clean_mel),
            mel_to_frames(clean_mel),
            logit_diff,
            act="cross_attn_out",
        )


def test_several_metrics_in_one_sweep(setup):
    from hooked_audio.metrics import KLDivergence

    model, clean_mel, corrupt_mel, tokens, _ = setup
    view = model.encoder_stream(tokens)
    clean, corrupt = mel_to_frames(clean_mel), mel_to_frames(corrupt_mel)
    with torch.no_grad():
        clean_logits = view(clean)
    results = resid_pre_sweep(
        view, clean, corrupt, {"ld": logit_diff, "kl": KLDivergence(clean_logits)}, progress=False
    )
    single = resid_pre_sweep(view, clean, corrupt, logit_diff, progress=False)
    torch.testing.assert_close(results["ld"].values, single.values)
    assert results["kl"].clean_value == pytest.approx(0.0, abs=1e-6)
    assert (results["kl"].values >= -1e-6).all() and results["kl"].corrupt_value > 0
