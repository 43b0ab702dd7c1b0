"""A study of single heads: each encoder head's output and each decoder cross-attention head's
keys and values at one word's frames. The rows are checked against a plain forward of the
whole model with the same hooks, so a head or a cell mislabelled in the table would fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study import report_figures as figures
from hooked_audio.study.report import write_report

PAIR = "paris-berlin"
LAYER = 3


@pytest.fixture(scope="module")
def pair():
    return {p.id: p for p in bundled_pairs()}[PAIR]


@pytest.fixture(scope="module")
def study(tiny_en, pair):
    spec = StudySpec(directions=("denoise",), acts=("encoder_heads", "cross_heads"), layers=(3,))
    return run_study(tiny_en, [pair], spec, progress=False, out=lambda line: None)


def _row(rows, act, head, label):
    (row,) = rows.query("act == @act and head == @head and label == @label").itertuples()
    return row


def _frames(row) -> list[int]:
    return list(range(round(row.start_s / 0.02), round(row.end_s / 0.02)))


@pytest.mark.parametrize(
    "act, names, head, label",
    [
        (
            "cross_heads",
            ["decoder.blocks.3.cross_attn.hook_k", "decoder.blocks.3.cross_attn.hook_v"],
            4,
            "Paris",
        ),
        (
            "cross_heads",
            ["decoder.blocks.3.cross_attn.hook_k", "decoder.blocks.3.cross_attn.hook_v"],
            1,
            "summer",
        ),
        ("encoder_heads", ["encoder.blocks.3.attn.hook_z"], 5, "Paris"),
    ],
)
def test_head_rows_equal_a_full_forward_with_that_head_patched_slow(
    tiny_en, pair, study, act, names, head, label
):
    row = _row(study.rows, act, head, label)
    frames = _frames(row)
    clean, corrupt = tiny_en.to_frames(pair.clean_audio), tiny_en.to_frames(pair.corrupt_audio)
    from hooked_audio.models.whisper.word_contrast import word_contrast

    contrast = word_contrast(tiny_en, pair)
    with torch.no_grad():
        _, clean_cache = tiny_en.run_with_cache(clean, contrast.tokens, names_filter=names)

        def patch(x, hook):
            x = x.clone()
            x[:, frames, head] = clean_cache[hook.name][:, frames, head]
            return x

        logits = tiny_en.run_with_hooks(
            corrupt, contrast.tokens, fwd_hooks=[(name, patch) for name in names]
        )
    assert row.value == pytest.approx(float(contrast.metric()(logits)), abs=1e-3)
    assert row.layer == LAYER and row.cell == list(
        study.rows.query("act == @act and head == @head")["label"]
    ).index(label)


def test_heads_that_read_the_changed_word(study):
    rows = study.rows
    cross = rows[rows["act"] == "cross_heads"]
    assert len(cross) == 6 * 7 and cross["head"].nunique() == 6  # heads x words
    changed = cross[cross["label"] == "Paris"]["normalised"]
    others = cross[cross["label"] != "Paris"]["normalised"]
    # what the decoder reads of the changed word carries the answer; of the other words, nothing
    assert changed.max() > 0.2 and others.abs().max() < 0.05
    summary = study.word_summary()
    assert set(summary["site"]) == {f"L3H{h}" for h in range(6)}


def test_report_draws_one_row_per_head(study, pair, tmp_path):
    rows = study.rows
    fig = figures.pair_figure(rows, ["denoise"], ["encoder_heads", "cross_heads"]).to_dict()
    bars = {trace["name"]: trace for trace in fig["data"] if trace["type"] == "bar"}
    for act in ("encoder_heads", "cross_heads"):
        cells = rows[rows["act"] == act]
        assert list(bars[f"{act}|denoise"]["y"]) == [f"L3H{int(h)}" for h in cells["head"]]
    assert fig["layout"]["yaxis"]["categoryarray"] == [f"L3H{h}" for h in range(6)]
    bar_fig = figures.word_bar_figure(study.word_summary(), "cross_heads", ["denoise"]).to_dict()
    assert list(bar_fig["data"][0]["x"]) == [f"L3H{h}" for h in range(6)]
    report = write_report(study, [pair], tmp_path)
    assert "cross-attention head&#x27;s keys and values" in report.read_text()
    assert np.isfinite(rows["normalised"]).all()
