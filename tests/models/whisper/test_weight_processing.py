"""TransformerLens's weight processing on Whisper: the processed model gives the unprocessed
model's outputs (log-probabilities where the unembedding is centred), on the real tiny.en and
on random configs; afterwards TransformerLens's `ActivationCache` helpers read logits off the
residual stream with no LayerNorm weight by hand."""

from __future__ import annotations

import copy

import pytest
import torch

from hooked_audio import HookedWhisper
from hooked_audio.pairs import bundled_pairs
from tests.helpers.whisper_models import random_dims, random_reference

STEPS = ("fold_ln", "center_writing_weights", "center_unembed", "fold_value_biases")


def processed(model: HookedWhisper, **steps) -> HookedWhisper:
    chosen = {name: steps.get(name, False) for name in STEPS}
    return copy.deepcopy(model).process_weights_(**chosen)


def assert_same_outputs(a: torch.Tensor, b: torch.Tensor, centred_unembed: bool) -> None:
    if centred_unembed:  # every position's logits move by one constant
        shift = a - b
        assert (shift - shift.mean(-1, keepdim=True)).abs().max() < 1e-4
        torch.testing.assert_close(a.log_softmax(-1), b.log_softmax(-1), atol=1e-4, rtol=0)
    else:
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def pair_inputs(tiny_en):
    pair = bundled_pairs()[0]
    return tiny_en.to_frames(pair.clean_audio), tiny_en.to_tokens(pair.clean_text)


@pytest.mark.parametrize(
    "steps", [{name: True} for name in STEPS] + [dict.fromkeys(STEPS, True)], ids=str
)
def test_the_real_tiny_en_gives_the_same_outputs(tiny_en, pair_inputs, steps):
    frames, tokens = pair_inputs
    model = processed(tiny_en, **steps)
    with torch.no_grad():
        assert_same_outputs(
            model(frames, tokens), tiny_en(frames, tokens), "center_unembed" in steps
        )
    if steps.get("fold_ln"):
        lns = [b.ln1 for b in model.encoder.blocks] + [model.encoder.ln_post]
        lns += [b.ln_cross for b in model.decoder.blocks] + [model.decoder.ln_final]
        assert all(bool((ln.w == 1).all() and (ln.b == 0).all()) for ln in lns)
    # the embedding and the unembedding part only where a step changes them differently
    assert (model.decoder.untied_W_U is None) == (steps == {"fold_value_biases": True})


@pytest.mark.parametrize("seed", [0, 1])
def test_random_configs_give_the_same_outputs(seed):
    dims = random_dims()
    model = HookedWhisper.from_openai_state_dict(
        dims, random_reference(dims, seed=seed, std=0.3).state_dict()
    )
    gen = torch.Generator().manual_seed(seed)
    mel = torch.randn(2, dims.n_mels, 2 * dims.n_audio_ctx, generator=gen)
    tokens = torch.randint(0, dims.n_vocab, (2, 5), generator=gen)
    with torch.no_grad():
        reference = model(mel, tokens)
        assert_same_outputs(
            processed(model, **dict.fromkeys(STEPS, True))(mel, tokens), reference, True
        )
        assert_same_outputs(
            processed(model, fold_ln=True, fold_value_biases=True)(mel, tokens), reference, False
        )


def test_after_folding_cache_helpers_read_logits_off_the_residual_stream(tiny_en, pair_inputs):
    frames, tokens = pair_inputs
    folded = HookedWhisper.from_pretrained(
        "tiny.en",
        fold_ln=True,
        center_writing_weights=True,
        center_unembed=True,
        fold_value_biases=True,
    )
    targets = tokens[0, 3:6]
    for model, expect_equal in ((folded, True), (tiny_en, False)):
        logits, cache = model.decoder_stream(frames).run_with_cache(tokens)
        final = cache.accumulated_resid(layer=None, pos_slice=-1)[-1:]  # the last resid_post
        attrs = torch.stack(  # one token per call: a 1-D `tokens` is one per batch row
            [cache.logit_attrs(final, tokens=t[None], pos_slice=-1)[0, 0] for t in targets]
        )
        direct = logits[0, -1, targets] - model.b_U[targets]
        assert torch.allclose(attrs, direct, atol=1e-3) == expect_equal
        stack = cache.apply_ln_to_stack(final, layer=None, pos_slice=-1)[0]
        normalised = cache["ln_final.hook_normalized"][:, -1]
        # before folding, ln_final's weight and bias still stand between the two
        assert torch.allclose(stack, normalised, atol=1e-4) == expect_equal
    with torch.no_grad():
        assert (
            folded.transcribe(frames_audio := bundled_pairs()[0].clean_audio)["text"]
            == (tiny_en.transcribe(frames_audio)["text"])
        )


def test_options_are_checked(tiny_en):
    with pytest.raises(TypeError, match="fold_ln must be True or False"):
        copy.deepcopy(tiny_en).process_weights_(fold_ln="yes")


def test_processing_in_16_bits_warns_and_float32_does_not(recwarn):
    model = HookedWhisper(random_dims())
    model.process_weights_()
    assert not [w for w in recwarn if "Processing weights" in str(w.message)]
    for dtype in (torch.bfloat16, torch.float16):
        with pytest.warns(UserWarning, match=f"in place in {str(dtype)[6:]}.*Load the model in"):
            HookedWhisper(random_dims()).to(dtype).process_weights_()
