"""`AudioLMSource`: an audio LM's hooks at its prompt's audio (or text) positions, clip by
clip, equal to the model's own cache at those positions whatever the batching; and streamed
into SAE training batches (`ActivationBatches.from_clips`), which need no SAELens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.activation_store import StoreClip
from hooked_audio.models.audio_lm.activation_source import AudioLMSource
from hooked_audio.sae import ActivationBatches
from tests.helpers.audio_lm_models import hooked, qwen2_audio_hf
from tests.helpers.audio_lm_processor import tiny_processor

HOOK = "blocks.1.hook_resid_post"
PLAIN = "Say: <|audio_bos|><|AUDIO|><|audio_eos|> ok"


def _clip(name: str, seconds: float, seed: int) -> StoreClip:
    t = np.arange(int(seconds * 16000)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * (200 + 60 * seed) * t)
    wave += 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return StoreClip(name, wave.astype(np.float32), sample_rate=16000)


@pytest.fixture(scope="module")
def model():
    model = hooked(qwen2_audio_hf(seed=3))
    model.set_processor(tiny_processor())
    return model


@pytest.fixture(scope="module")
def clips():
    return [_clip("a", 0.7, 1), _clip("b", 0.3, 2), _clip("c", 0.9, 3)]


def reference(model, clip, positions):
    inputs = model.prepare_inputs(text=PLAIN, audio=np.asarray(clip.audio), sampling_rate=16000)
    with torch.no_grad():
        _, cache = model.run_with_cache(**inputs, names_filter=[HOOK])
    audio = model.audio_positions(inputs["input_ids"])[0]
    mask = {"audio": audio, "text": ~audio, "all": torch.ones_like(audio)}[positions]
    return cache[HOOK][0, mask].numpy(), mask.nonzero().flatten().numpy()


@pytest.mark.parametrize("positions", ["audio", "text", "all"])
def test_rows_are_the_cache_at_the_positions_whatever_the_batch(model, clips, positions):
    source = AudioLMSource(model, PLAIN, positions=positions)
    for batch_size in (1, 3):  # a batch of clips of different lengths is left-padded
        rows = list(source.rows(clips, [HOOK], batch_size, padding=False))
        assert [r.clip.id for r in rows] == ["a", "b", "c"]
        for r, clip in zip(rows, clips):
            values, where = reference(model, clip, positions)
            np.testing.assert_array_equal(r.positions, where)
            np.testing.assert_allclose(r.values[HOOK], values, atol=1e-5)
    audio_rows = [
        len(r.positions) for r in AudioLMSource(model, PLAIN).rows(clips, [HOOK], 3, False)
    ]
    assert audio_rows[2] > audio_rows[0] > audio_rows[1]  # longer clips, more audio positions


def test_a_conversation_prompt_takes_the_clip_in_its_audio_item(model, clips):
    chat = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Hi?"}]}]
    (rows,) = AudioLMSource(model, chat).rows(clips[:1], [HOOK], 1, False)
    rendered = model.processor.apply_chat_template(
        [
            {
                "role": "user",
                "content": [{"type": "audio", "audio": "x"}, {"type": "text", "text": "Hi?"}],
            }
        ],
        add_generation_prompt=True,
        tokenize=False,
    )
    inputs = model.prepare_inputs(text=rendered, audio=np.asarray(clips[0].audio))
    with torch.no_grad():
        _, cache = model.run_with_cache(**inputs, names_filter=[HOOK])
    audio = model.audio_positions(inputs["input_ids"])[0]
    np.testing.assert_allclose(rows.values[HOOK], cache[HOOK][0, audio].numpy(), atol=1e-5)


def test_streamed_batches_hold_every_audio_row(model, clips):
    source = AudioLMSource(model, PLAIN)
    expected = np.concatenate([reference(model, c, "audio")[0] for c in clips])
    batches = ActivationBatches.from_clips(
        source, clips, HOOK, batch_size=len(expected), buffer_rows=4096
    )
    assert batches.d_in == model.cfg.d_model
    rows = next(batches).numpy()
    key = lambda a: np.lexsort(a.T[:3])
    np.testing.assert_allclose(rows[key(rows)], expected[key(expected)], atol=1e-5)


def test_bad_prompts_positions_and_hooks_are_refused(model, clips):
    with pytest.raises(ValueError, match="positions must be one of"):
        AudioLMSource(model, PLAIN, positions="frames")
    with pytest.raises(ValueError, match="exactly one audio item"):
        AudioLMSource(model, [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    source = AudioLMSource(model, PLAIN)
    with pytest.raises(ValueError, match="not a hook of this model's language model"):
        source.check_hooks(["audio_encoder.blocks.0.hook_resid_post"])
    with pytest.raises(ValueError, match="no padding positions"):
        list(source.rows(clips, [HOOK], 1, padding=True))
