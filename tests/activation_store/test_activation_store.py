"""The activation store: rows equal the encoder's own activations window by window, times are
seconds from the clip's start across windows, words come from the clip's word times, padding
is left out unless asked, a stopped store resumes without redoing finished clips, and bad
input is refused before any work."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
import torch

from hooked_audio.activation_store import (
    ActivationStore,
    StoreClip,
    clips_from_folder,
    clips_from_pairs,
    write_activations,
)
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.pairs import bundled_pairs

RESID = "encoder.blocks.2.hook_resid_post"
Z = "encoder.blocks.0.attn.hook_z"


def encoder_run(model, waveform: np.ndarray, hook: str) -> np.ndarray:
    kept = {}
    with torch.no_grad(), model.hooks(fwd_hooks=[(hook, lambda x, hook: kept.update(x=x))]):
        model.embed_audio(model.to_mel(torch.as_tensor(waveform), sample_rate=16000))
    return kept["x"][0].flatten(1).numpy()


@pytest.fixture(scope="module")
def long_clip(jfk_audio):
    """jfk three times over: 33 s, two windows (30 s and 3 s)."""
    return np.concatenate([np.asarray(jfk_audio)] * 3)


def test_rows_are_the_encoders_activations_at_their_clip_times(
    tiny_en, jfk_audio, long_clip, tmp_path
):
    clips = [
        StoreClip("long", long_clip, [("ask", 32.0, 32.4)], sample_rate=16000),
        StoreClip("jfk", jfk_audio, [("ask", 3.0, 3.5)]),
    ]
    source = WhisperEncoderSource(tiny_en, "tiny.en")
    store = ActivationStore(
        write_activations(source, clips, [RESID, Z], tmp_path, batch_size=2, progress=False)
    )
    assert store.clips == ["long", "jfk"] or store.clips == ["jfk", "long"]
    frame = store.frame(RESID, "long")
    per_window = frame.groupby("window").size().tolist()
    assert per_window == [1500, math.ceil((len(long_clip) - 480000) / 320)]  # no padding rows
    np.testing.assert_allclose(frame["time_s"], frame["window"] * 30 + frame["position"] * 0.02)
    for hook in (RESID, Z):
        values = store.array(hook, "long")
        for window in (0, 1):
            rows = (frame["window"] == window).to_numpy()
            expected = encoder_run(
                tiny_en, long_clip[window * 480000 : (window + 1) * 480000], hook
            )
            np.testing.assert_allclose(values[rows], expected[: rows.sum()], atol=1e-5, rtol=1e-5)
    # the word is where its times say, in the second window
    asked = frame[frame["word"] == "ask"]
    assert len(asked) == 20 and asked["window"].eq(1).all()
    assert asked["time_s"].min() == pytest.approx(32.0) and asked["time_s"].max() < 32.4
    assert store.array(Z).shape == (len(store.frame(Z)), 6 * 64)
    assert store.frame(RESID, "jfk")["word"].eq("ask").sum() == 25

    padded = ActivationStore(
        write_activations(
            source, clips[1:], [RESID], tmp_path / "padded", padding=True, progress=False
        )
    )
    assert len(padded.frame(RESID)) == 1500


def test_a_stopped_store_resumes_and_refuses_another_design(tiny_en, tmp_path):
    pairs = bundled_pairs()[:2]
    clips = clips_from_pairs(pairs)
    assert [c.id for c in clips][:2] == [f"{pairs[0].id}.clean", f"{pairs[0].id}.corrupt"]
    source = WhisperEncoderSource(tiny_en, "tiny.en")
    whole = ActivationStore(
        write_activations(source, clips, [RESID], tmp_path / "whole", progress=False)
    )
    # a first run that wrote two clips, and one that stopped half-way through a third
    write_activations(source, clips[:2], [RESID], tmp_path / "resumed", progress=False)
    (tmp_path / "resumed" / RESID / f".{clips[2].id}.arrow.tmp").write_bytes(b"half")
    seen = []
    run = source.activations
    source.activations = lambda windows, names: seen.extend(windows) or run(windows, names)
    resumed = ActivationStore(
        write_activations(
            source, clips, [RESID], tmp_path / "resumed", batch_size=3, progress=False
        )
    )
    assert len(seen) == len(clips) - 2  # the finished clips were not run again
    assert resumed.clips == whole.clips
    np.testing.assert_array_equal(resumed.array(RESID), whole.array(RESID))
    assert resumed.frame(RESID).equals(whole.frame(RESID))
    with pytest.raises(ValueError, match="Resume with the same source, hooks and padding"):
        write_activations(source, clips, [Z], tmp_path / "resumed", progress=False)


def test_clips_from_a_folder_with_word_times(tiny_en, jfk_audio, tmp_path):
    soundfile.write(tmp_path / "one.flac", np.asarray(jfk_audio), 16000)
    soundfile.write(tmp_path / "two.wav", np.asarray(jfk_audio)[:16000], 16000)
    (tmp_path / "one.words.csv").write_text("word,start,end\nAnd,0.3,0.5\nso,0.5,0.7\n")
    clips = clips_from_folder(tmp_path)
    assert [c.id for c in clips] == ["one", "two"]
    assert clips[0].words == (("And", 0.3, 0.5), ("so", 0.5, 0.7)) and clips[1].words == ()
    store = ActivationStore(
        write_activations(
            WhisperEncoderSource(tiny_en), clips, [RESID], tmp_path / "s", progress=False
        )
    )
    assert store.frame(RESID, "two").shape[0] == 50
    assert store.frame(RESID, "one")["word"].tolist()[15:26] == ["And"] * 10 + ["so"]


def test_bad_input_is_refused_before_any_work(tiny_en, jfk_audio, tmp_path):
    source = WhisperEncoderSource(tiny_en)
    clip = StoreClip("jfk", jfk_audio)
    for hooks, message in (
        ([], "at least one hook"),
        (["encoder.blocks.9.hook_resid_post"], "not a hook of this model.s encoder"),
        (["decoder.blocks.0.hook_resid_post"], "not a hook of this model.s encoder"),
        (["encoder.blocks.0.attn.hook_pattern"], "query and key positions"),
        ([RESID, RESID], "repeat"),
        (["../x"], "not a hook name"),
    ):
        with pytest.raises(ValueError, match=message):
            write_activations(source, [clip], hooks, tmp_path / "bad", progress=False)
    with pytest.raises(ValueError, match="Clip ids must be unique"):
        write_activations(source, [clip, clip], [RESID], tmp_path / "bad", progress=False)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        write_activations(source, [clip], [RESID], tmp_path / "bad", batch_size=0, progress=False)
    for bad_id in ("../up", "", "a/b"):
        with pytest.raises(ValueError, match="A clip id must be"):
            StoreClip(bad_id, jfk_audio)
    with pytest.raises(ValueError, match=r"word 1 \(.late., 20-21 s\): starts after the clip ends"):
        StoreClip("late", jfk_audio, [("late", 20.0, 21.0)])
    with pytest.raises(FileNotFoundError, match="not an activation store"):
        ActivationStore(tmp_path)
    store = ActivationStore(
        write_activations(source, [clip], [RESID], tmp_path / "ok", progress=False)
    )
    with pytest.raises(KeyError, match="not 'encoder.blocks.1.hook_resid_post'"):
        store.array("encoder.blocks.1.hook_resid_post")
    with pytest.raises(KeyError, match="No finished clip"):
        store.frame(RESID, "other")


def test_batches_give_every_row_once_shuffled_within_a_bounded_window(tiny_en, tmp_path):
    clips = clips_from_pairs(bundled_pairs()[:3])
    store = ActivationStore(
        write_activations(WhisperEncoderSource(tiny_en), clips, [RESID], tmp_path, progress=False)
    )
    every = store.array(RESID)
    in_order = list(store.batches(RESID, 64, shuffle=False))
    np.testing.assert_array_equal(np.concatenate(in_order), every)
    assert all(len(b) == 64 for b in in_order[:-1]) and 0 < len(in_order[-1]) <= 64
    shuffled = np.concatenate(list(store.batches(RESID, 64, seed=1, clips_in_memory=2)))
    assert not np.array_equal(shuffled, every)
    by_row = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    np.testing.assert_array_equal(by_row(shuffled), by_row(every))  # each row exactly once
    again = np.concatenate(list(store.batches(RESID, 64, seed=1, clips_in_memory=2)))
    np.testing.assert_array_equal(again, shuffled)  # a seed gives one order
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        next(store.batches(RESID, 0))
    with pytest.raises(KeyError, match="This store holds"):
        next(store.batches("encoder.blocks.0.hook_resid_pre", 8))
