"""Weight processing of the audio LM's language model (RMSNorm, as TransformerLens does it for
RMS models): the processed model gives the unprocessed model's outputs (log-probabilities
where the unembedding is centred), with grouped key/value heads; centring the writing weights
is refused, since RMSNorm keeps the mean."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.helpers.audio_lm_models import (
    hooked,
    qwen2_audio_hf,
    qwen2_audio_inputs,
    voxtral_hf,
    voxtral_inputs,
)


def _cases():
    return [
        (hooked(qwen2_audio_hf(n_heads=6, n_kv_heads=2)), qwen2_audio_inputs([80], [7])),
        (hooked(voxtral_hf()), voxtral_inputs()),
    ]


@pytest.mark.parametrize("case", range(2), ids=["qwen2-audio", "voxtral"])
def test_processed_language_model_gives_the_same_outputs(case):
    model, inputs = _cases()[case]
    with torch.no_grad():
        reference = model(**inputs)
        for steps in (
            dict(fold_ln=True, center_unembed=False, fold_value_biases=False),
            dict(fold_ln=False, center_unembed=False, fold_value_biases=True),
            dict(fold_ln=True, center_unembed=True, fold_value_biases=True),
        ):
            processed = copy.deepcopy(model).process_weights_(**steps)
            out = processed(**inputs)
            if steps["center_unembed"]:
                shift = out - reference
                assert (shift - shift.mean(-1, keepdim=True)).abs().max() < 1e-4
                torch.testing.assert_close(
                    out.log_softmax(-1), reference.log_softmax(-1), atol=1e-4, rtol=0
                )
            else:
                torch.testing.assert_close(out, reference, atol=1e-4, rtol=0)
            if steps["fold_ln"]:
                norms = [b.ln1 for b in processed.blocks] + [processed.ln_final]
                assert all(bool((n.w == 1).all()) for n in norms)
    # the weights really were not the identity before (the test would be empty otherwise)
    assert not torch.allclose(model.blocks[0].ln1.w, torch.ones_like(model.blocks[0].ln1.w))
    if case == 0:  # Qwen2 has value biases; Voxtral (Llama-like) has none
        assert model.blocks[0].attn._b_V.abs().max() > 0


def test_centring_the_writing_weights_is_refused():
    model = hooked(qwen2_audio_hf())
    with pytest.raises(ValueError, match="RMSNorm, which does not"):
        model.process_weights_(center_writing_weights=True)
    with pytest.raises(TypeError, match="fold_ln must be True or False"):
        model.process_weights_(fold_ln=1)
