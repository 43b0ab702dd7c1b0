"""Head patching over groups of positions, and several acts of a head patched together,
against a plain full forward with the same hooks (the engine resumes from a cached layer and
batches cells; the reference does neither)."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching.head_sweep import head_sweep
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
GROUPS = [[0, 1], [2, 3, 4], [5]]


def logit_diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


@pytest.fixture(scope="module")
def setup():
    ref = random_reference(DIMS, seed=23, std=0.15)
    model = HookedWhisper.from_openai_state_dict(DIMS, ref.state_dict())
    gen = torch.Generator().manual_seed(6)
    clean = torch.randn(1, 80, 12, generator=gen)
    corrupt = clean + 2 * torch.randn(1, 80, 12, generator=gen)
    tokens = torch.tensor([[50257, 50362, 11, 12, 13]])
    return model, clean, corrupt, tokens


def _reference(model, base, source, tokens, names, n_layers, n_heads):
    """values[layer, head * len(GROUPS) + group]: a full forward on `base` with that head's
    `names` (format strings over the layer) at the group's positions taken from `source`."""
    _, source_cache = model.run_with_cache(source, tokens)
    out = torch.full((n_layers, n_heads * len(GROUPS)), float("nan"))
    for layer in range(out.shape[0]):
        for head in range(n_heads):
            for g, group in enumerate(GROUPS):

                def patch(x, hook, head=head, group=group):
                    x = x.clone()
                    x[:, group, head] = source_cache[hook.name][:, group, head]
                    return x

                hooks = [(name.format(layer), patch) for name in names]
                with torch.no_grad():
                    logits = model.run_with_hooks(base, tokens, fwd_hooks=hooks)
                out[layer, head * len(GROUPS) + g] = float(logit_diff(logits))
    return out


def test_cross_attention_keys_and_values_over_frame_groups(setup):
    model, clean, corrupt, tokens = setup
    base_view, source_view = model.decoder_stream(corrupt), model.decoder_stream(clean)
    _, source_cache = source_view.run_with_cache(tokens)
    result = head_sweep(
        base_view,
        tokens,
        source_cache,
        logit_diff,
        component="cross_attn",
        act=("k", "v"),
        positions=GROUPS,
        position_labels=["a", "b", "c"],
        progress=False,
        batch_size=2,
    )
    names = ["decoder.blocks.{}.cross_attn.hook_k", "decoder.blocks.{}.cross_attn.hook_v"]
    expected = _reference(model, corrupt, clean, tokens, names, DIMS.n_text_layer, DIMS.n_text_head)
    torch.testing.assert_close(result.values, expected, atol=1e-4, rtol=0)
    assert result.cell_labels[:4] == ["H0@a", "H0@b", "H0@c", "H1@a"]
    assert result.act == "cross_attn.k+v"


def test_encoder_head_outputs_over_frame_groups(setup):
    model, clean, corrupt, tokens = setup
    frames_clean, frames_corrupt = mel_to_frames(clean), mel_to_frames(corrupt)
    base_view = model.encoder_stream(tokens)
    _, source_cache = base_view.run_with_cache(frames_clean)
    result = head_sweep(
        base_view,
        frames_corrupt,
        source_cache,
        logit_diff,
        component="attn",
        act="z",
        positions=GROUPS,
        progress=False,
    )
    expected = _reference(
        model,
        corrupt,
        clean,
        tokens,
        ["encoder.blocks.{}.attn.hook_z"],
        DIMS.n_audio_layer,
        DIMS.n_audio_head,
    )
    torch.testing.assert_close(result.values, expected, atol=1e-4, rtol=0)
    assert result.cell_labels[:2] == ["H0@0-1", "H0@2-4"]


def test_bad_act_combinations_are_refused(setup):
    model, clean, _, tokens = setup
    view = model.decoder_stream(clean)
    _, cache = view.run_with_cache(tokens)
    with pytest.raises(ValueError, match="pattern"):
        head_sweep(view, tokens, cache, logit_diff, act=("pattern", "k"), progress=False)
    with pytest.raises(ValueError, match="not both"):
        head_sweep(view, tokens, cache, logit_diff, by_pos=True, positions=GROUPS)
    with pytest.raises(ValueError, match="one or more"):
        head_sweep(view, tokens, cache, logit_diff, act=(), progress=False)
