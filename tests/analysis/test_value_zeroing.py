"""Value zeroing: the batched, block-only map equals a brute force that zeroes one frame's value
per run of the WHOLE model (float64, on random Whisper and wav2vec2 configs); rows sum to 1; a
frame whose value is already zero mixes nothing in; bad input is refused with the fix."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedAudioEncoder, HookedWhisper, mel_to_frames
from hooked_audio.analysis import value_zeroing
from tests.helpers.audio_encoder_models import random_hf
from tests.helpers.audio_lm_models import hooked, qwen2_audio_hf, qwen2_audio_inputs
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=12, n_audio_layer=3)
TOKENS = torch.tensor([[50257, 50362, 11, 12]])


def whisper_setup():
    model = HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=5, std=0.3).state_dict()
    ).double()
    frames = mel_to_frames(torch.randn(1, 80, 24, generator=torch.Generator().manual_seed(1)))
    return model, frames.double()


def brute_force_distances(model, run, block, hook_name, queries, keys):
    """`d[q, k]` = 1 - cos between block `block`'s output at query `q` normally and with key
    `k`'s value zeroed, one full forward of the model (`run()`) per key, plain torch hooks."""
    seen = {}
    handle = block.register_forward_hook(lambda m, a, out: seen.__setitem__("out", out))
    try:
        with torch.no_grad():
            run()
            base = seen["out"][0, queries]
            rows = []
            for key in keys:

                def zero(v, hook, key=key):
                    v = v.clone()
                    v[:, key] = 0
                    return v

                with model.hooks(fwd_hooks=[(hook_name, zero)]):
                    run()
                rows.append(
                    1 - torch.nn.functional.cosine_similarity(seen["out"][0, queries], base, dim=-1)
                )
    finally:
        handle.remove()
    return torch.stack(rows, dim=1)


@pytest.mark.parametrize("layer", [0, 2])
def test_whisper_map_equals_whole_model_brute_force(layer):
    model, frames = whisper_setup()
    queries, keys = [1, 4, 5, 9, 11], [0, 2, 3, 4, 7, 8, 10]
    found = value_zeroing(
        model.encoder_stream(TOKENS),
        frames,
        layer,
        frames=queries,
        key_frames=keys,
        batch_size=3,  # chunks of 3, 3, 1 keys
        progress=False,
    )
    expected = brute_force_distances(
        model,
        lambda: model(frames, TOKENS),
        model.encoder.blocks[layer],
        f"encoder.blocks.{layer}.attn.hook_v",
        queries,
        keys,
    )
    torch.testing.assert_close(found.distances, expected, atol=1e-12, rtol=1e-8)
    torch.testing.assert_close(found.scores, expected / expected.sum(1, keepdim=True))
    torch.testing.assert_close(found.scores.sum(1), torch.ones(len(queries), dtype=torch.float64))
    assert (found.distances >= 0).all() and (found.distances > 1e-6).any()
    assert found.query_positions == queries and found.key_positions == keys
    assert found.spectrogram.shape == (80, 24)  # the framed log-mel input, for the figure


def test_wav2vec2_post_ln_map_equals_whole_model_brute_force():
    model = HookedAudioEncoder.from_hf(random_hf("wav2vec2", ctc=True, stable=False)).double()
    wave = 0.5 * torch.randn(1, 12 * 320 + 80, generator=torch.Generator().manual_seed(2))
    frames = model.to_frames(wave.double())
    found = value_zeroing(model.encoder_stream(), frames, 1, batch_size=4, progress=False)
    n_pos = frames.shape[-1]
    assert found.query_positions == list(range(n_pos))  # no padding: every frame
    expected = brute_force_distances(
        model,
        lambda: model(model.from_frames(frames)),
        model.blocks[1],
        "blocks.1.attn.hook_v",
        list(range(n_pos)),
        list(range(n_pos)),
    )
    torch.testing.assert_close(found.distances, expected, atol=1e-12, rtol=1e-8)
    assert found.spectrogram is None  # a waveform input has no log-mel


def test_a_value_already_zero_mixes_nothing_in():
    model, frames = whisper_setup()
    view = model.encoder_stream(TOKENS)

    def zero_frame_6(v, hook):
        v = v.clone()
        v[:, 6] = 0
        return v

    with view.hooks(fwd_hooks=[("blocks.1.attn.hook_v", zero_frame_6)]):
        found = value_zeroing(view, frames, 1, progress=False)
    assert (found.distances[:, 6] == 0).all()
    assert (found.distances[:, [5, 7]] > 0).all()  # other values do change outputs
    torch.testing.assert_close(found.scores.sum(1), torch.ones(12, dtype=torch.float64))


def test_seconds_pick_the_frames_that_overlap_them():
    model, frames = whisper_setup()
    view = model.encoder_stream(TOKENS)
    found = value_zeroing(view, frames, 0, seconds=(0.05, 0.13), progress=False)
    # 20 ms frames: 0.04-0.06 (2) .. 0.12-0.14 (6)
    assert found.query_positions == [2, 3, 4, 5, 6] == found.key_positions


def test_bad_input_is_refused_with_the_fix():
    model, frames = whisper_setup()
    view = model.encoder_stream(TOKENS)
    with pytest.raises(ValueError, match=r"Layers must lie in \[0, 3\)"):
        value_zeroing(view, frames, 3, progress=False)
    with pytest.raises(ValueError, match=r"`frames` must lie in \[0, 12\)"):
        value_zeroing(view, frames, 0, frames=[2, 12], progress=False)
    with pytest.raises(ValueError, match=r"`key_frames` must lie in \[0, 12\)"):
        value_zeroing(view, frames, 0, key_frames=[-1], progress=False)
    with pytest.raises(ValueError, match="outside the input's 0-0.24 s"):
        value_zeroing(view, frames, 0, seconds=(0.1, 0.3), progress=False)
    with pytest.raises(ValueError, match="not both"):
        value_zeroing(view, frames, 0, frames=[1], seconds=(0.0, 0.1), progress=False)
    with pytest.raises(ValueError, match="batch 2"):
        value_zeroing(view, frames.expand(2, -1, -1, -1), 0, progress=False)
    with pytest.raises(ValueError, match="ends after the clip"):
        value_zeroing(view, frames, 0, words=[("late", 0.2, 0.5)], progress=False)
    with pytest.raises(ValueError, match="NaN or infinite"):
        value_zeroing(view, frames.masked_fill(frames > 2, float("nan")), 0, progress=False)
    with torch.no_grad():
        model.encoder.blocks[0].attn.W_V[0, 0, 0] = float("nan")  # NaN activations from here
    with pytest.raises(ValueError, match="output holds NaN"):
        value_zeroing(view, frames, 1, progress=False)
    with pytest.raises(ValueError, match="positions are tokens"):
        value_zeroing(model.decoder_stream(frames), TOKENS, 0, progress=False)


def test_audio_lm_tower_with_padded_keys_equals_whole_model_brute_force():
    """An audio LM's Whisper-style tower on a short clip: its blocks get a key mask for the
    padding, which the block-only runs must pass on exactly as the full forward does."""
    model = hooked(qwen2_audio_hf(seed=3)).double()
    inputs = qwen2_audio_inputs([50], [7], seed=1)  # 50 of 80 mel frames: 25 of 40 positions
    frames = mel_to_frames(inputs["input_features"]).double()
    view = model.audio_stream(
        inputs["input_ids"], feature_attention_mask=inputs["feature_attention_mask"]
    )
    queries, keys = [0, 10, 24], [3, 10, 20, 24, 30]  # key 30 lies in the masked padding
    found = value_zeroing(view, frames, 1, frames=queries, key_frames=keys, progress=False)
    expected = brute_force_distances(
        model,
        lambda: view(frames),
        model.audio_encoder.blocks[1],
        "audio_encoder.blocks.1.attn.hook_v",
        queries,
        keys,
    )
    torch.testing.assert_close(found.distances, expected, atol=1e-12, rtol=1e-8)
    assert (found.distances[:, 4] == 0).all()  # a masked key mixes nothing in
