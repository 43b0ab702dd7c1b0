"""`WhisperDecoderSource`: decoder hooks at the positions that predict each clip's own greedy
transcript, equal to the model's cache on that transcript whatever the batching, the tokens
named; streamed into SAE training batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.activation_store import bundled_clips
from hooked_audio.models.whisper.decoder_activation_source import WhisperDecoderSource
from hooked_audio.models.whisper.inference import greedy_options
from hooked_audio.sae import ActivationBatches

HOOK = "decoder.blocks.2.hook_resid_post"


@pytest.fixture(scope="module")
def clips():
    return bundled_clips()[:2]


def reference(model, clip):
    mel = model.to_mel(clip.audio)
    with torch.no_grad():
        (result,) = model.decode(mel, greedy_options(model))
    start = model.start_tokens()
    tokens = start + list(result.tokens) + [model.tokenizer.eot]
    with torch.no_grad():
        _, cache = model.run_with_cache(mel, torch.tensor([tokens]), names_filter=[HOOK])
    return cache[HOOK][0].numpy(), tokens, len(start), result.text


@pytest.fixture(scope="module")
def references(tiny_en, clips):
    return [reference(tiny_en, c) for c in clips]


def test_rows_predict_the_transcript_whatever_the_batch(tiny_en, clips, references):
    source = WhisperDecoderSource(tiny_en)
    for batch_size in (1, 2):
        rows = list(source.rows(clips, [HOOK], batch_size, padding=False))
        assert [r.window.clip.id for r in rows] == [c.id for c in clips]
        for r, (values, _, n_start, text) in zip(rows, references):
            # from the last prefix token (predicts the first word) to the last text token
            np.testing.assert_allclose(r.values[HOOK], values[n_start - 1 : -1], atol=1e-4)
            assert "".join(r.tokens[1:]).strip() == text
    (everything,) = source.rows(clips[:1], [HOOK], 1, padding=True)
    values, tokens, _, _ = references[0]
    np.testing.assert_allclose(everything.values[HOOK], values, atol=1e-4)
    assert len(everything.tokens) == len(tokens)


def test_streamed_decoder_batches(tiny_en, clips):
    source = WhisperDecoderSource(tiny_en, "tiny.en")
    expected = np.concatenate(
        [reference(tiny_en, c)[0][reference(tiny_en, c)[2] - 1 : -1] for c in clips]
    )
    batches = ActivationBatches.from_clips(
        source, clips, HOOK, batch_size=len(expected), buffer_rows=1024
    )
    assert batches.d_in == 384
    rows = next(batches).numpy()
    key = lambda a: np.lexsort(a.T[:3])
    np.testing.assert_allclose(rows[key(rows)], expected[key(expected)], atol=1e-4)


def test_encoder_and_pattern_hooks_are_refused(tiny_en):
    source = WhisperDecoderSource(tiny_en)
    with pytest.raises(ValueError, match="not a hook of this model.s decoder"):
        source.check_hooks(["encoder.blocks.0.hook_resid_post"])
    with pytest.raises(ValueError, match="query and key positions"):
        source.check_hooks(["decoder.blocks.0.attn.hook_pattern"])
