"""The one sweep entry point (`engine.run_sweep`): batched path patching and head sets equal
their one-at-a-time and hand-hooked runs, and the engines take every name from the view."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import hooked_audio.patching
from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.models.whisper.cross_attention_patching import (
    audio_to_cross_head_sets,
    audio_to_cross_heads,
)
from hooked_audio.patching import (
    Sender,
    direct_path,
    direct_path_head_sweep,
    head_integrated_gradients,
    head_sweep,
    layer_sweep,
)
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12, n_audio_layer=3, n_text_layer=3)
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])
CORRUPT_TOKENS = torch.tensor([[50257, 50362, 11, 99, 13]])


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    model = HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=31, std=0.15).state_dict()
    )
    gen = torch.Generator().manual_seed(6)
    clean = torch.randn(1, 80, 12, generator=gen)
    corrupt = clean + 2 * torch.randn(1, 80, 12, generator=gen)
    return model, clean, corrupt


@pytest.mark.parametrize("component", ["attn", "cross_attn"])
def test_batched_direct_path_head_sweep_equals_one_head_per_run(setup, component):
    model, clean, _ = setup
    view = model.decoder_stream(clean)
    args = (view, TOKENS, CORRUPT_TOKENS, logit_diff, 3, component)
    one = direct_path_head_sweep(*args, batch_size=1)
    batched = direct_path_head_sweep(*args, batch_size=3)  # chunks of 3 and 1 of 4 heads
    assert not one.values.isnan().any()
    torch.testing.assert_close(batched.values, one.values, atol=1e-5, rtol=0)
    assert batched.cell_labels == one.cell_labels and batched.clean_value == one.clean_value
    with pytest.raises(ValueError, match="batch_size must be a positive number"):
        direct_path_head_sweep(*args, batch_size=0)


def _hand_hooked(model, base_audio, source_audio, heads):
    """The metric with the source audio's cross-attention keys and values at `heads`, by
    hand-written hooks on one full forward of the base audio's decoder stream."""
    base_view, source_view = model.decoder_stream(base_audio), model.decoder_stream(source_audio)
    names = sorted({f"blocks.{layer}.cross_attn.hook_{kv}" for layer, _ in heads for kv in "kv"})
    with torch.no_grad():
        _, source_cache = source_view.run_with_cache(TOKENS, names_filter=names)

    def hook_for(name, chosen):
        def patch(activation, hook):
            activation = activation.clone()
            activation[:, :, chosen] = source_cache[name][:, :, chosen]
            return activation

        return patch

    hooks = [
        (name, hook_for(name, [h for layer, h in heads if name.startswith(f"blocks.{layer}.")]))
        for name in names
    ]
    with torch.no_grad():
        return float(logit_diff(base_view.run_with_hooks(TOKENS, fwd_hooks=hooks)))


def test_audio_to_cross_heads_equals_hand_hooked_run(setup):
    model, clean, corrupt = setup
    heads = [(0, 1), (2, 3), (2, 0)]
    got = audio_to_cross_heads(model, clean, corrupt, TOKENS, logit_diff, heads)
    assert got.item() == pytest.approx(_hand_hooked(model, corrupt, clean, heads), abs=1e-5)
    assert got.metadata == {"heads": heads} and got.cell_labels == ["L0H1+L2H3+L2H0"]
    noised = audio_to_cross_heads(model, clean, corrupt, TOKENS, logit_diff, heads, "noise")
    assert noised.item() == pytest.approx(_hand_hooked(model, clean, corrupt, heads), abs=1e-5)


def test_head_sets_batched_equal_hand_hooked_runs(setup):
    model, clean, corrupt = setup
    sets = [[(1, 2)], [], [(0, 0), (2, 1)], [(0, 3), (1, 1), (2, 2)], [(1, 0)]]
    result = audio_to_cross_head_sets(model, clean, corrupt, TOKENS, logit_diff, sets, batch_size=2)
    expected = torch.tensor([[_hand_hooked(model, corrupt, clean, s) for s in sets]])
    torch.testing.assert_close(result.values, expected, atol=1e-5, rtol=0)
    assert result.cell_labels[1] == "no heads" and result.layers == [2]
    with torch.no_grad():
        corrupt_value = float(logit_diff(model(corrupt, TOKENS)))
    assert float(result.values[0, 1]) == pytest.approx(corrupt_value, abs=1e-5)
    with pytest.raises(ValueError, match="head_sets is empty"):
        audio_to_cross_head_sets(model, clean, corrupt, TOKENS, logit_diff, [])
    with pytest.raises(ValueError, match="2 cells but 1 labels"):
        audio_to_cross_head_sets(model, clean, corrupt, TOKENS, logit_diff, sets[:2], labels=["a"])


def test_a_view_without_cross_attention_refuses_it_by_name(setup):
    model, clean, corrupt = setup
    encoder = model.encoder_stream(TOKENS)
    frames, corrupt_frames = mel_to_frames(clean), mel_to_frames(corrupt)
    _, cache = encoder.run_with_cache(corrupt_frames)
    has = r"attentions \('attn',\), got 'cross_attn'"
    with pytest.raises(ValueError, match=has):
        head_sweep(encoder, frames, cache, logit_diff, component="cross_attn", progress=False)
    with pytest.raises(ValueError, match=has):
        head_integrated_gradients(encoder, frames, cache, logit_diff, "cross_attn", "z")
    with pytest.raises(ValueError, match=r"block parts \('attn', 'mlp'\), got 'cross_attn'"):
        direct_path(encoder, frames, corrupt_frames, logit_diff, Sender(0, "cross_attn"), 1)
    with pytest.raises(ValueError, match="layer acts .*'resid_post'.*got 'resid_mid_cross'"):
        layer_sweep(encoder, frames, corrupt_frames, logit_diff, act="resid_mid_cross")
    assert "cross_attn_out" in model.decoder_stream(clean).layer_acts
    assert "cross_attn_out" not in encoder.layer_acts


def test_default_component_is_the_views_last_attention(setup):
    model, clean, corrupt = setup
    decoder = model.decoder_stream(corrupt)
    _, source = model.decoder_stream(clean).run_with_cache(TOKENS)
    args = (decoder, TOKENS, source, logit_diff)
    default = head_sweep(*args, act=("k", "v"), layers=[1], progress=False)
    named = head_sweep(*args, component="cross_attn", act=("k", "v"), layers=[1], progress=False)
    torch.testing.assert_close(default.values, named.values, atol=0, rtol=0)
    assert default.act == "cross_attn.k+v"
    encoder = model.encoder_stream(TOKENS)
    _, frames_cache = encoder.run_with_cache(mel_to_frames(clean))
    assert head_sweep(
        encoder, mel_to_frames(corrupt), frames_cache, logit_diff, layers=[0], progress=False
    ).act.startswith("attn.")


def test_no_model_specific_activation_names_in_the_engines():
    folder = Path(hooked_audio.patching.__file__).parent
    found = [
        f"{path.name}:{number}"
        for path in sorted(folder.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "cross_attn" in line or "resid_mid_cross" in line
    ]
    assert not found, f"name activations through the view, not literally: {found}"
