"""Recordings longer than one window: a sweep of the window that holds the metric equals the
same sweep of that window's audio alone, with every time moved to seconds of the recording;
nothing in another window moves it; caches carry each position's recording time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.audio import Audio
from hooked_audio.models.whisper.long_form import LongClip, long_clip_sweep
from hooked_audio.models.whisper.word_contrast import word_contrast
from hooked_audio.pairs import bundled_pairs
from hooked_audio.patching import layer_sweep, time_cells

RESID = "encoder.blocks.1.hook_resid_post"


@pytest.fixture(scope="module")
def pair():
    return next(p for p in bundled_pairs() if p.id == "paris-berlin")


def recording(jfk, tail, noise: float = 0.0) -> Audio:
    """jfk twice and 8 s of silence (window 0, 30 s), then `tail` (window 1); `noise` adds
    white noise to window 0 only."""
    head = np.concatenate([np.asarray(jfk), np.asarray(jfk), np.zeros(8 * 16000, np.float32)])
    head = head + noise * np.random.default_rng(0).standard_normal(len(head)).astype(np.float32)
    return Audio(np.concatenate([head, np.asarray(tail)]).astype(np.float32), 16000)


def test_the_window_holding_the_metric_is_swept_in_recording_time(tiny_en, jfk_audio, pair):
    contrast = word_contrast(tiny_en, pair)
    words = [(start, end) for _, start, end in pair.meta["clean_words"]]
    clean = recording(jfk_audio, pair.clean_audio)
    # the corrupt take also differs in window 0: that cannot move window 1's metric
    corrupt = recording(jfk_audio, pair.corrupt_audio, noise=0.05)
    found = long_clip_sweep(
        tiny_en,
        clean,
        corrupt,
        contrast.tokens,
        contrast.metric(),
        at_seconds=30 + pair.spans_s[0][0],
        layers=[0, 3],
        spans_s=[(30 + a, 30 + b) for a, b in words],
        progress=False,
    )
    alone = layer_sweep(
        tiny_en.encoder_stream(contrast.tokens),
        tiny_en.to_frames(pair.clean_audio),
        tiny_en.to_frames(pair.corrupt_audio),
        contrast.metric(),
        layers=[0, 3],
        cells=time_cells.spans(1500, words).cells,
        progress=False,
    )
    torch.testing.assert_close(found.values, alone.values, atol=1e-4, rtol=1e-4)
    assert found.metadata["window"] == 1 and found.metadata["window_start_s"] == 30.0
    np.testing.assert_allclose(
        np.array(found.cell_seconds), np.array(alone.cell_seconds) + 30.0, atol=1e-9
    )
    assert found.cell_labels[0] == f"{found.cell_seconds[0][0]:.2f}-{found.cell_seconds[0][1]:.2f}s"
    ax = found.plot()  # the map reads in seconds of the recording
    low, high = ax.get_xlim()
    assert 29.9 <= low and high <= 30 + len(pair.clean_audio) / 16000 + 0.1
    with pytest.raises(ValueError, match="not inside window 1"):
        long_clip_sweep(
            tiny_en, clean, corrupt, contrast.tokens, contrast.metric(), 30.5, spans_s=[(5, 6)]
        )
    with pytest.raises(ValueError, match="must be the same length"):
        long_clip_sweep(
            tiny_en,
            clean,
            Audio(np.asarray(corrupt)[:-160], 16000),
            contrast.tokens,
            contrast.metric(),
            30.5,
        )
    with pytest.raises(ValueError, match="outside the recording"):
        long_clip_sweep(tiny_en, clean, corrupt, contrast.tokens, contrast.metric(), 40.0)


def test_caches_carry_recording_time(tiny_en, jfk_audio, pair):
    clip = LongClip.of(tiny_en, recording(jfk_audio, pair.clean_audio))
    assert clip.n_windows == 2 and clip.window_of(31.0) == 1 and clip.window_start(1) == 30.0
    tokens = word_contrast(tiny_en, pair).tokens
    _, cache, seconds = clip.run_with_cache(tiny_en, tokens, names_filter=[RESID])
    assert cache[RESID].shape[:2] == (2, 1500) and seconds.shape == (2, 1500)
    assert seconds[1, 0] == 30.0 and seconds[1, 50] == pytest.approx(31.0)
    kept = {}
    with torch.no_grad(), tiny_en.hooks(fwd_hooks=[(RESID, lambda x, hook: kept.update(x=x))]):
        tiny_en.embed_audio(tiny_en.to_mel(pair.clean_audio))
    torch.testing.assert_close(cache[RESID][1], kept["x"][0], atol=1e-4, rtol=1e-4)
