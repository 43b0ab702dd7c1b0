"""Patching on HookedAudioLM: stream views with TransformerLens's own patching, the position
sweep engine and the grounding coefficient, against brute force on the HF model."""

from __future__ import annotations

import pytest
import torch
import transformer_lens.patching as tl_patching

from hooked_audio.analysis import GroundingResult, audio_text_sweep, grounding_coefficient
from hooked_audio.audio import mel_to_frames
from hooked_audio.models.audio_lm import audio_window_cells
from hooked_audio.patching import SweepResult, layer_sweep, position_sweep
from tests.helpers.audio_lm_models import AUDIO_TOKEN, hooked, qwen2_audio_hf, qwen2_audio_inputs
from tests.helpers.type_checks import unchecked_types

TARGET, OTHER = 7, 11


def metric(logits: torch.Tensor) -> torch.Tensor:
    return (logits[:, -1, TARGET] - logits[:, -1, OTHER]).mean()


@pytest.fixture(scope="module")
def hf():
    return qwen2_audio_hf(seed=5)


@pytest.fixture(scope="module")
def model(hf):
    return hooked(hf)


@pytest.fixture(scope="module")
def pair():
    """Same prompt length and audio positions; different audio and different text."""
    clean = qwen2_audio_inputs([80], [7], seed=1)
    corrupt = qwen2_audio_inputs([80], [7], seed=2)
    return clean, corrupt


def _hf_patched_metric(
    hf, base: dict, source: dict, layer: int, mask: torch.Tensor, tower: bool = False
) -> float:
    """Brute force on HF: replace the input of decoder layer `layer` (or audio-tower layer)
    at `mask` with the source run's hidden state there, via a torch forward pre-hook."""
    with torch.no_grad():
        if tower:
            source_hidden = {}
            grab = hf.model.audio_tower.layers[layer].register_forward_pre_hook(
                lambda module, args: source_hidden.update(h=args[0].clone())
            )  # returns None
            hf(**source)
            grab.remove()
            source_state = source_hidden["h"]
            target = hf.model.audio_tower.layers[layer]
        else:
            source_state = hf(**source, output_hidden_states=True).hidden_states[layer]
            target = hf.model.language_model.layers[layer]

        def pre_hook(module, args, kwargs):
            hidden = torch.where(
                mask[..., None], source_state, args[0] if args else kwargs["hidden_states"]
            )
            if args:
                return (hidden, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": hidden}

        handle = target.register_forward_pre_hook(pre_hook, with_kwargs=True)
        try:
            return float(metric(hf(**base).logits))
        finally:
            handle.remove()


def test_position_sweep_equals_hf_brute_force(hf, model, pair):
    clean, corrupt = pair
    audio = model.audio_positions(clean["input_ids"])
    for direction, (base, source) in (("denoise", (corrupt, clean)), ("noise", (clean, corrupt))):
        result = audio_text_sweep(
            model, clean, corrupt, metric, direction=direction, progress=False
        )
        for layer in range(model.cfg.n_layers):
            for cell, mask in enumerate((audio, ~audio, torch.ones_like(audio))):
                expected = _hf_patched_metric(hf, base, source, layer, mask)
                assert result.values[layer, cell] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("act", ["attn_out", "mlp_out", "resid_post"])
def test_position_sweep_other_acts_equal_hook_patching(model, pair, act):
    clean, corrupt = pair
    audio = model.audio_positions(clean["input_ids"])
    result = position_sweep(
        model, clean, corrupt, metric, [audio], ["audio"], act=act, progress=False
    )
    _, clean_cache = model.run_with_cache(**clean)
    for layer in range(model.cfg.n_layers):
        name = f"blocks.{layer}.hook_{act}"
        hook = lambda x, hook: torch.where(audio[..., None], clean_cache[name], x)
        with torch.no_grad():
            expected = metric(model.run_with_hooks(**corrupt, fwd_hooks=[(name, hook)]))
        assert result.values[layer, 0] == pytest.approx(float(expected), abs=1e-5)


def test_lm_stream_runs_transformer_lens_patching_like_hf(hf, model):
    """Text-only difference through the LM view: TransformerLens's own loop equals HF brute
    force."""
    clean = qwen2_audio_inputs([80], [7], seed=1)
    corrupt_ids = clean["input_ids"].clone()
    corrupt_ids[0, -1] = (corrupt_ids[0, -1] + 1) % AUDIO_TOKEN
    corrupt_ids[0, 0] = (corrupt_ids[0, 0] + 3) % AUDIO_TOKEN
    view = model.lm_stream(
        input_features=clean["input_features"],
        feature_attention_mask=clean["feature_attention_mask"],
    )
    _, clean_cache = view.run_with_cache(clean["input_ids"])
    result = tl_patching.get_act_patch_resid_pre(view, corrupt_ids, clean_cache, metric)
    corrupt = {**clean, "input_ids": corrupt_ids}
    n_pos = corrupt_ids.shape[1]
    for layer, pos in [(0, 0), (0, n_pos - 1), (1, 0), (1, 5), (1, n_pos - 1)]:
        mask = torch.zeros_like(corrupt_ids, dtype=torch.bool)
        mask[0, pos] = True
        assert result[layer, pos] == pytest.approx(
            _hf_patched_metric(hf, corrupt, clean, layer, mask), abs=1e-4
        )
    # the fast engine on the same view gives the same numbers
    fast = layer_sweep(view, clean["input_ids"], corrupt_ids, metric, progress=False)
    torch.testing.assert_close(fast.values, result, atol=1e-5, rtol=0)
    # ActivationCache helpers work on the view
    stack, labels = clean_cache.accumulated_resid(return_labels=True)
    assert stack.shape[0] == model.cfg.n_layers + 1 and labels[-1] == "final_post"


def test_audio_stream_runs_transformer_lens_patching_like_hf(hf, model):
    clean = qwen2_audio_inputs([80], [7], seed=1)
    corrupt_features = qwen2_audio_inputs([80], [7], seed=2)["input_features"]
    view = model.audio_stream(
        clean["input_ids"], feature_attention_mask=clean["feature_attention_mask"]
    )
    clean_frames, corrupt_frames = (
        mel_to_frames(clean["input_features"]),
        mel_to_frames(corrupt_features),
    )
    _, clean_cache = view.run_with_cache(clean_frames)
    result = tl_patching.get_act_patch_resid_pre(view, corrupt_frames, clean_cache, metric)
    assert result.shape == (2, 40)
    corrupt = {**clean, "input_features": corrupt_features}
    for layer, frame in [(0, 0), (0, 17), (1, 39)]:
        mask = torch.zeros(1, 40, dtype=torch.bool)
        mask[0, frame] = True
        assert result[layer, frame] == pytest.approx(
            _hf_patched_metric(hf, corrupt, clean, layer, mask, tower=True), abs=1e-4
        )
    fast = layer_sweep(view, clean_frames, corrupt_frames, metric, progress=False)
    torch.testing.assert_close(fast.values, result, atol=1e-5, rtol=0)
    assert fast.cell_seconds[17] == pytest.approx((0.34, 0.36))


def test_grounding_pure_listener_and_pure_guesser(model, pair):
    clean, corrupt = pair
    # Same text, different audio: at layer 0 everything that differs is in the audio.
    listener = grounding_coefficient(
        model, clean, {**corrupt, "input_ids": clean["input_ids"]}, metric, progress=False
    )
    assert listener.text_effect[0] == 0.0
    assert listener.audio_effect[0] == pytest.approx(1.0, abs=1e-4)
    assert listener.coefficient[0] == pytest.approx(1.0, abs=1e-4)
    assert listener.both_effect.sub(1).abs().max() < 1e-4  # patching every position restores all
    # A model that cannot hear (projector zeroed), with the text before the audio kept: the
    # audio positions then hold the same thing in both runs at every layer, g = 0.
    deaf = hooked(qwen2_audio_hf(seed=5))
    with torch.no_grad():
        deaf.projector.W.zero_()
        deaf.projector.b.zero_()
    corrupt_ids = corrupt["input_ids"].clone()
    corrupt_ids[:, :2] = clean["input_ids"][:, :2]
    guesser = grounding_coefficient(
        deaf, clean, {**corrupt, "input_ids": corrupt_ids}, metric, progress=False
    )
    assert guesser.audio_effect.abs().max() < 1e-4
    defined = ~guesser.coefficient.isnan()
    assert defined.any() and guesser.coefficient[defined].abs().max() < 1e-4
    for direction in ("noise",):
        noised = grounding_coefficient(
            model,
            clean,
            {**corrupt, "input_ids": clean["input_ids"]},
            metric,
            direction=direction,
            progress=False,
        )
        assert noised.coefficient[0] == pytest.approx(1.0, abs=1e-4)


def test_grounding_formula_tolerance_and_signs():
    values = torch.tensor(
        [
            [3.0, 1.0, 4.0],  # audio 0.75 of the gap, text 0.25
            [1.02, 1.01, 1.0],  # both below tolerance -> undefined
            [5.0, -1.0, 4.0],
        ]
    )  # opposite signs
    sweep = SweepResult(
        values=values,
        layers=[0, 1, 2],
        cells=[[0], [1], [0, 1]],
        cell_labels=["audio", "text", "audio+text"],
        act="resid_pre",
        direction="denoise",
        clean_value=5.0,
        corrupt_value=1.0,
    )
    result = GroundingResult.from_sweep(sweep, tolerance=0.05)
    assert result.audio_effect[0] == 0.5 and result.text_effect[0] == 0.0
    assert result.coefficient[0] == 1.0
    assert result.coefficient[1].isnan()
    assert result.mixed_sign.tolist() == [False, False, True]
    assert result.coefficient[2] == pytest.approx(1.0 / 0.5)
    frame = result.to_dataframe()
    assert list(frame["layer"]) == [0, 1, 2]
    noise = SweepResult(
        values=torch.tensor([[4.0, 5.0, 1.0]]),
        layers=[0],
        cells=[[0], [1], [0, 1]],
        cell_labels=["audio", "text", "audio+text"],
        act="resid_pre",
        direction="noise",
        clean_value=5.0,
        corrupt_value=1.0,
    )
    noised = GroundingResult.from_sweep(noise)
    assert noised.audio_effect[0] == 0.25 and noised.text_effect[0] == 0.0
    assert noised.both_effect[0] == 1.0 and noised.coefficient[0] == 1.0
    flat = SweepResult(
        values=values,
        layers=[0, 1, 2],
        cells=[[0], [1], [0, 1]],
        cell_labels=["audio", "text", "audio+text"],
        act="resid_pre",
        direction="denoise",
        clean_value=1.0,
        corrupt_value=1.0,
    )
    with pytest.raises(ValueError, match="does not move this metric"):
        GroundingResult.from_sweep(flat)


def test_audio_window_cells_partition_audio(model, pair):
    clean, corrupt = pair
    masks, labels, spans = audio_window_cells(model, clean["input_ids"], 0.2)
    audio = model.audio_positions(clean["input_ids"])
    assert len(masks) == 4  # 20 audio positions of 40 ms in windows of 5
    assert (
        torch.equal(torch.stack(masks).sum(0).bool(), audio)
        and torch.stack(masks).sum(0).max() == 1
    )
    assert labels[1] == "0.20-0.40s" and spans[-1] == pytest.approx((0.6, 0.8))
    result = position_sweep(
        model, clean, corrupt, metric, masks, labels, layers=[0], progress=False, cell_seconds=spans
    )
    assert result.values.shape == (1, 4)
    with pytest.raises(ValueError, match="at least one audio position"):
        audio_window_cells(model, clean["input_ids"], 0.01)


def test_position_sweep_errors(model, pair):
    clean, corrupt = pair
    shorter = qwen2_audio_inputs([80], [5], seed=2)
    with pytest.raises(ValueError, match="same prompt length"):
        audio_text_sweep(model, clean, shorter, metric, progress=False)
    shifted = {**corrupt, "input_ids": corrupt["input_ids"].roll(1, dims=1)}
    with pytest.raises(ValueError, match="different positions"):
        audio_text_sweep(model, clean, shifted, metric, progress=False)
    with pytest.raises(ValueError, match="act must be one of"):
        audio_text_sweep(model, clean, corrupt, metric, act="cross_attn_out", progress=False)
    with pytest.raises(ValueError, match="outside the"):
        position_sweep(model, clean, corrupt, metric, [[99]], ["x"], progress=False)
    with unchecked_types(), pytest.raises(ValueError, match="direction must be"):
        audio_text_sweep(model, clean, corrupt, metric, direction="sideways", progress=False)


def test_library_metrics_and_metric_mappings_work_on_audio_lm(model, pair):
    """The metrics written for HookedWhisper take the audio LM's logits unchanged."""
    from hooked_audio.metrics import LogitDiff, LogProb

    clean, corrupt = pair
    logit_diff = LogitDiff(position=-1, correct=TARGET, incorrect=OTHER)
    results = audio_text_sweep(
        model,
        clean,
        corrupt,
        {"diff": logit_diff, "fn": metric, "logprob": LogProb(position=-1, tokens=TARGET)},
        progress=False,
    )
    torch.testing.assert_close(results["diff"].values, results["fn"].values, atol=1e-5, rtol=0)
    with torch.no_grad():
        expected = torch.log_softmax(model(**clean)[0, -1], -1)[TARGET]
    assert results["logprob"].clean_value == pytest.approx(float(expected), abs=1e-5)


def test_stock_head_patching_on_grouped_query_attention(model):
    """TransformerLens's per-head functions on the LM view: query heads for z, the grouped
    key/value heads for k and v (cfg.n_key_value_heads), equal to patching one head by hand."""
    clean = qwen2_audio_inputs([80], [7], seed=1)
    corrupt_ids = clean["input_ids"].clone()
    corrupt_ids[0, -3:] = (corrupt_ids[0, -3:] + 5) % AUDIO_TOKEN
    view = model.lm_stream(
        input_features=clean["input_features"],
        feature_attention_mask=clean["feature_attention_mask"],
    )
    _, clean_cache = view.run_with_cache(clean["input_ids"])
    z = tl_patching.get_act_patch_attn_head_out_all_pos(view, corrupt_ids, clean_cache, metric)
    k = tl_patching.get_act_patch_attn_head_k_all_pos(view, corrupt_ids, clean_cache, metric)
    assert z.shape == (model.cfg.n_layers, model.cfg.n_heads)
    assert k.shape == (model.cfg.n_layers, model.cfg.n_key_value_heads)
    for name, result, layer, head in (("attn.hook_z", z, 1, 4), ("attn.hook_k", k, 1, 1)):
        full = f"blocks.{layer}.{name}"

        def patch(x, hook, full=full, head=head):
            x = x.clone()
            x[:, :, head] = clean_cache[full][:, :, head]
            return x

        with torch.no_grad():
            expected = metric(view.run_with_hooks(corrupt_ids, fwd_hooks=[(full, patch)]))
        assert result[layer, head] == pytest.approx(float(expected), abs=1e-5)
    assert z.abs().max() > 1e-3 and k.abs().max() > 1e-3  # the patches do something


def test_attribution_qk_fix_exact_on_rotary_grouped_attention(model):
    """AtP* with the QK fix on the LM view (rotated queries/keys, grouped keys): exact for a
    metric linear in layer 1's attention pattern, like on Whisper; plain attribution is not."""
    from hooked_audio.patching import (
        resid_pre_attribution,
        resid_pre_attribution_qk,
        resid_pre_sweep,
    )

    clean = qwen2_audio_inputs([80], [7], seed=1)
    corrupt_ids = clean["input_ids"].clone()
    corrupt_ids[0, [0, 1, -4, -1]] = (corrupt_ids[0, [0, 1, -4, -1]] + 5) % AUDIO_TOKEN
    view = model.lm_stream(
        input_features=clean["input_features"],
        feature_attention_mask=clean["feature_attention_mask"],
    )
    n = clean["input_ids"].shape[1]
    weights = torch.randn(1, model.cfg.n_heads, n, n, generator=torch.Generator().manual_seed(3))
    captured = {}
    capture = ("blocks.1.attn.hook_pattern", lambda x, hook: captured.__setitem__("p", x))
    pattern_metric = lambda logits: (captured["p"] * weights).sum() + 0.0 * logits.sum()
    with view.hooks(fwd_hooks=[capture]):
        exact = resid_pre_sweep(
            view, clean["input_ids"], corrupt_ids, pattern_metric, layers=[1], progress=False
        )
        fixed = resid_pre_attribution_qk(
            view, clean["input_ids"], corrupt_ids, pattern_metric, layers=[1]
        )
        plain = resid_pre_attribution(
            view, clean["input_ids"], corrupt_ids, pattern_metric, layers=[1]
        )
    assert (exact.values - exact.corrupt_value).abs().max() > 1e-2
    torch.testing.assert_close(fixed.values, exact.values, atol=1e-4, rtol=1e-4)
    assert (plain.values - exact.values).abs().max() > 1e-3


def test_grounding_plot_shows_the_numbers(model, pair):
    import matplotlib

    matplotlib.use("Agg")
    clean, corrupt = pair
    result = grounding_coefficient(model, clean, corrupt, metric, progress=False)
    top, bottom = result.plot()
    coefficient_line = top.get_lines()[0]
    assert list(coefficient_line.get_xdata()) == result.layers
    torch.testing.assert_close(
        torch.tensor(coefficient_line.get_ydata(), dtype=torch.float32),
        result.coefficient,
        equal_nan=True,
    )
    labels = [line.get_label() for line in bottom.get_lines()]
    assert labels == ["audio", "text", "audio+text"]
    torch.testing.assert_close(
        torch.tensor(bottom.get_lines()[1].get_ydata(), dtype=torch.float32), result.text_effect
    )
