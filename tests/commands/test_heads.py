"""`hooked-audio heads` and `rank_cross_attention_heads`: every cross-attention head of the real
tiny.en scored against the bundled pairs' synthesised word times; each head's word starts are
the argmax of openai-whisper's own cross-attention; plain audio without reference times is
refused before the model loads."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pytest
import soundfile
import torch
from whisper.model import disable_sdpa

from hooked_audio.models.whisper.head_timing import (
    cross_attention_word_starts,
    rank_cross_attention_heads,
    timed_clips,
)
from hooked_audio.pairs import bundled_pairs
from hooked_audio.word_times.timed_clip import TimedClip
from tests.commands.conftest import one_line_error

PAIRS = files("hooked_audio") / "data" / "pairs"
JFK = files("hooked_audio") / "data" / "jfk.flac"


@pytest.fixture(scope="module")
def clips():
    return timed_clips(bundled_pairs())


def test_every_head_is_ranked_and_the_best_tracks_word_starts(tiny_en, clips):
    dims = tiny_en.dims
    table = rank_cross_attention_heads(tiny_en, clips)
    assert len(table) == dims.n_text_layer * dims.n_text_head
    assert set(zip(table["layer"], table["head"])) == {
        (layer, head) for layer in range(dims.n_text_layer) for head in range(dims.n_text_head)
    }
    assert np.isfinite(table[["mean_error_ms", "median_error_ms"]]).all().all()
    assert (table["n_words"] == sum(len(clip.words) for clip in clips)).all()
    assert table["mean_error_ms"].is_monotonic_increasing and list(table.index[:2]) == [1, 2]
    best = table.iloc[0]
    assert best["mean_error_ms"] < table["mean_error_ms"].median()
    # measured: head (2, 4) is off by 25 ms on average, 98% of words within 100 ms
    assert best["mean_error_ms"] < 60 and best["within_100ms"] > 0.9
    assert table["alignment_head"].sum() == 8  # tiny.en's official alignment heads
    # the query that predicts the word's first token tracks starts better than the token's own
    reading = rank_cross_attention_heads(tiny_en, clips, query="reading")
    assert best["mean_error_ms"] < reading["mean_error_ms"].iloc[0]


def test_word_starts_are_the_argmax_of_openai_whispers_cross_attention(
    tiny_en, tiny_en_reference, clips
):
    clip = clips[0]
    rows = cross_attention_word_starts(tiny_en, clip)
    tokens = list(tiny_en.start_tokens())
    predicting = []
    for word, _, _ in clip.words:
        predicting.append(len(tokens) - 1)
        tokens += tiny_en.tokenizer.encode(" " + word)
    scores = []
    hooks = [
        block.cross_attn.register_forward_hook(lambda _, __, out: scores.append(out[-1]))
        for block in tiny_en_reference.decoder.blocks
    ]
    try:
        with torch.no_grad(), disable_sdpa():
            tiny_en_reference(tiny_en.to_mel(clip.audio), torch.tensor([tokens]))
    finally:
        for hook in hooks:
            hook.remove()
    n_speech = int(np.ceil(len(clip.audio) / 16000 / 0.02))
    for layer, qk in enumerate(scores):  # [1, head, query, key], before the softmax
        reference = qk[0][:, predicting, :n_speech].numpy()  # [head, word, key]
        got = rows[rows["layer"] == layer].pivot(
            index="head", columns="word_index", values="start_s"
        )
        frames = np.rint(got.to_numpy() / 0.02).astype(int)
        chosen = np.take_along_axis(reference, frames[..., None], -1)[..., 0]
        # the argmax, up to ties within float32 rounding (two frames can score the same to 1e-5
        # and the two models' rounding then picks either)
        np.testing.assert_allclose(chosen, reference.max(-1), rtol=0, atol=1e-4)
        assert (frames == reference.argmax(-1)).mean() > 0.95


def test_a_head_scored_against_its_own_starts_has_no_error(tiny_en, clips):
    clip = clips[2]
    starts_of = cross_attention_word_starts(tiny_en, clip).groupby(["layer", "head"])
    # reference words must be in order: take a head whose own starts increase
    (layer, head), own = next(
        (key, rows)
        for key, rows in starts_of
        if rows["start_s"].is_monotonic_increasing and rows["start_s"].nunique() == len(rows)
    )
    starts = own["start_s"].tolist()
    ends = [*starts[1:], len(clip.audio) / 16000]  # each word until the next starts
    words = tuple(zip(own["word"], starts, ends))
    table = rank_cross_attention_heads(tiny_en, [TimedClip("own", clip.audio, words)])
    assert table.iloc[0][["layer", "head", "mean_error_ms"]].tolist() == [layer, head, 0.0]


def test_heads_command_prints_the_ranking_and_json(cli, model_loads, tmp_path):
    picture = tmp_path / "best.png"
    run = cli("heads", PAIRS / "car-bike_clean.flac", "bundled", "--top", "3", "--plot", picture)
    assert run.code == 0, run.err
    assert (
        f"The best head's cross-attention on {PAIRS / 'car-bike_clean.flac'}: {picture}" in run.out
    )
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = run.out.splitlines()
    assert "8 clip(s), 58 words" in lines[0]
    assert [line.split()[0] for line in lines[3:6]] == ["1", "2", "3"]
    assert "(21 more heads; --top 24 shows all)" in run.out
    assert "The model's alignment heads (*" in run.out
    report = json.loads(cli("heads", "bundled", "--json").out)
    assert len(report["heads"]) == 24 and report["query"] == "predicting"
    assert report["heads"][0]["rank"] == 1


def test_heads_takes_word_times_from_a_csv(cli, model_loads, tmp_path, clips):
    clip = clips[0]
    audio, words = tmp_path / "clip.wav", tmp_path / "words.csv"
    soundfile.write(audio, clip.audio, 16000, subtype="FLOAT")  # the same samples
    words.write_text("word,start,end\n" + "".join(f"{w},{s},{e}\n" for w, s, e in clip.words))
    from_csv = json.loads(cli("heads", audio, "--words", words, "--json").out)["heads"]
    from_manifest = json.loads(cli("heads", PAIRS / f"{clip.name}_clean.flac", "--json").out)[
        "heads"
    ]
    assert from_csv == from_manifest


@pytest.mark.parametrize(
    "argv, message",
    [
        ([str(JFK)], "has no reference word times: pass --words jfk.csv"),
        ([str(PAIRS / "car-bike_corrupt.flac")], "has no reference word times"),
        (["a.wav", "b.wav", "--words", "a.csv"], "give one per audio file, in the same order"),
        (["bundled", "--words", "a.csv"], "'bundled' carries its own word times"),
        (["bundled", "--top", "0"], "argument --top: expected an integer >= 1"),
        (["bundled", "--plot", "best.pdf"], "--plot best.pdf: name a .png file"),
    ],
)
def test_bad_input_is_refused_before_the_model_loads(cli, no_model, argv, message):
    assert message in one_line_error(cli("heads", *argv), "heads")


def test_heads_find_chooses_a_set_and_prints_its_exports(capsys, tmp_path):
    from hooked_audio.cli import main

    assert main(["heads", "bundled", "--find", "--max-heads", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    found = report["found"]
    assert 1 <= len(found["heads"]) <= 2 and [s["n_heads"] for s in found["sizes"]] == [1, 2]
    assert found["held_out"]["mean_error_ms"] == min(s["mean_error_ms"] for s in found["sizes"])
    assert found["current"]["n_words"] == found["held_out"]["n_words"] > 0
    words = tmp_path / "jfk.csv"
    words.write_text("word,start,end\nAnd,0.3,0.5\n")
    jfk = str(files("hooked_audio") / "data" / "jfk.flac")
    with pytest.raises(SystemExit):
        main(["heads", jfk, "--words", str(words), "--find"])
    assert "--find needs at least 2 clips" in capsys.readouterr().err
