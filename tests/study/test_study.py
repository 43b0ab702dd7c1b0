"""Studies over minimal pairs: the default contrast, the sweep table, resuming, sources, CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from hooked_audio.cli import main
from hooked_audio.models.whisper.word_contrast import word_contrast
from hooked_audio.pairs import bundled_pairs
from hooked_audio.pairs.changed_word import changed_word
from hooked_audio.study import StudySpec, parse_granularity, run_study
from hooked_audio.study.pair_source import load_pairs, pairs_from_csv
from hooked_audio.study.result import bootstrap_interval


@pytest.fixture(scope="module")
def pairs():
    return {p.id: p for p in bundled_pairs()}


def test_word_contrast_is_the_changed_word_where_it_is_predicted(tiny_en, pairs):
    pair = pairs["paris-berlin"]
    contrast = word_contrast(tiny_en, pair)
    assert tiny_en.to_string([contrast.correct]) == " Paris"
    assert tiny_en.to_string([contrast.incorrect]) == " Berlin"
    assert tiny_en.to_string(contrast.tokens[0, 2:].tolist()) == " We will meet in"
    metric = contrast.metric()
    with torch.no_grad():
        clean = metric(tiny_en(tiny_en.to_frames(pair.clean_audio), contrast.tokens))
        corrupt = metric(tiny_en(tiny_en.to_frames(pair.corrupt_audio), contrast.tokens))
    assert clean > 5 and corrupt < -5
    with pytest.raises(ValueError, match="have the same words"):
        word_contrast(tiny_en, pairs["country-voice"])


def test_the_changed_word_is_read_from_the_texts(tiny_en, pairs):
    """`differing_words` of only the clean word (or none) is completed from the two texts when
    they differ in one word; texts that do not say which word changed are refused, showing
    them; a `differing_words` the texts contradict is refused."""
    pair = pairs["paris-berlin"]
    full = word_contrast(tiny_en, pair)
    for given in (["Paris"], []):
        inferred = word_contrast(tiny_en, dataclasses.replace(pair, differing_words=given))
        assert (inferred.correct, inferred.incorrect, inferred.word_index) == (
            full.correct,
            full.incorrect,
            full.word_index,
        )
        assert torch.equal(inferred.tokens, full.tokens)
    assert changed_word(pair) == ("Paris", "Berlin", 4)
    two = dataclasses.replace(
        pair, corrupt_text="We will dine in Berlin next summer.", differing_words=["Paris"]
    )
    with pytest.raises(
        ValueError, match=r"clean 'We will meet.*differ by meet -> dine; Paris -> Berlin"
    ):
        changed_word(two)
    with pytest.raises(ValueError, match="disagrees with its texts"):
        changed_word(dataclasses.replace(pair, differing_words=["Berlin"]))


def test_a_study_with_no_studiable_pair_says_why(tiny_en, pairs, tmp_path):
    """When every pair is left out the study stops with each pair's reason (and writes them to
    skipped.json) instead of summarising nothing."""
    pair = pairs["country-voice"]
    with pytest.raises(ValueError, match=r"(?s)No pair could be studied: all 1 .*country-voice: "):
        run_study(tiny_en, [pair], StudySpec(layers=(0,)), out_dir=tmp_path, progress=False)
    assert [s["pair"] for s in json.loads((tmp_path / "skipped.json").read_text())] == [
        "country-voice"
    ]
    with pytest.raises(ValueError, match="the pair set is empty"):
        run_study(tiny_en, [], StudySpec(layers=(0,)), progress=False)


def test_a_study_localises_the_changed_word(tiny_en, pairs, tmp_path):
    spec = StudySpec(layers=(0,), granularity="words")
    result = run_study(
        tiny_en,
        [pairs["car-bike"], pairs["window-pitch"]],
        spec,
        out_dir=tmp_path,
        progress=False,
        out=lambda line: None,
    )
    assert [s["pair"] for s in result.skipped] == ["window-pitch"]
    rows = result.rows
    words = [w for w, _, _ in pairs["car-bike"].meta["clean_words"]]
    assert len(rows) == 2 * len(words)  # two directions x one layer x one cell per word
    in_word = result.in_changed_word()
    assert sorted(rows[in_word]["label"].unique()) == ["car"]
    denoise, noise = rows["direction"] == "denoise", rows["direction"] == "noise"
    assert (rows[denoise & in_word]["normalised"] > 0.8).all()
    assert (rows[denoise & ~in_word]["normalised"].abs() < 0.2).all()
    assert (rows[noise & in_word]["normalised"] < 0.2).all()
    assert (rows[noise & ~in_word]["normalised"] > 0.8).all()
    summary = result.word_summary()
    assert set(summary["cells"]) == {"changed word", "other words"}
    on_disk = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(on_disk) == len(rows)
    assert json.loads((tmp_path / "skipped.json").read_text())[0]["pair"] == "window-pitch"


def test_a_study_resumes_and_refuses_another_design_slow(tiny_en, pairs, tmp_path, monkeypatch):
    spec = StudySpec(directions=("denoise",), layers=(0,), granularity="windows:0.4")
    first = run_study(
        tiny_en, [pairs["car-bike"]], spec, out_dir=tmp_path, progress=False, out=lambda line: None
    )
    # a unit that started but did not finish: its rows are dropped on reopening
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write(json.dumps({**first.rows.iloc[0].to_dict(), "unit": "half|denoise|x"}) + "\n")

    def no_sweeps(*args, **kwargs):
        raise AssertionError("a finished unit was run again")

    monkeypatch.setattr("hooked_audio.study.units.layer_sweep", no_sweeps)
    again = run_study(
        tiny_en, [pairs["car-bike"]], spec, out_dir=tmp_path, progress=False, out=lambda line: None
    )
    assert again.rows.equals(first.rows)
    # a folder written before StudySpec had mode, steps and verify_top_k still resumes
    saved = json.loads((tmp_path / "spec.json").read_text())
    older = {k: v for k, v in saved.items() if k not in ("mode", "steps", "verify_top_k")}
    (tmp_path / "spec.json").write_text(json.dumps(older))
    resumed = run_study(
        tiny_en, [pairs["car-bike"]], spec, out_dir=tmp_path, progress=False, out=lambda line: None
    )
    assert resumed.rows.equals(first.rows)
    with pytest.raises(ValueError, match="another design"):
        run_study(
            tiny_en, [pairs["car-bike"]], StudySpec(layers=(1,)), out_dir=tmp_path, progress=False
        )


def test_specs_and_sources_are_checked(tmp_path):
    assert parse_granularity("windows:0.1") == ("windows", 0.1)
    for bad in ("window:0.1", "windows:0", "windows:x", "word"):
        with pytest.raises(ValueError, match="granularity"):
            parse_granularity(bad)
    with pytest.raises(ValueError, match="acts"):
        StudySpec(acts=("cross_attn_out",))
    with pytest.raises(ValueError, match="direction"):
        StudySpec(directions=("forward",))
    csv = tmp_path / "pairs.csv"
    csv.write_text("sentence,word\nHe drove his car.,car\n")
    with pytest.raises(ValueError, match="lacks replacement"):
        pairs_from_csv(csv)
    csv.write_text("sentence,word,replacement\nHe drove his car.,,bike\n")
    with pytest.raises(ValueError, match="row 1: word is empty"):
        pairs_from_csv(csv)
    # every row is checked before any is synthesised: a bad last row fails at once
    good = "She sent a letter to her sister.,sister,brother\n" * 3
    for last, message in [
        ("He drove his car.,bus,bike\n", "row 4: 'bus' must occur exactly once"),
        ("He drove, slowly, his car.,car,bike\n", "row 4: it has more fields than the header"),
        ("He drove his car.,car,car\n", "row 4: word and replacement are both 'car'"),
    ]:
        csv.write_text("sentence,word,replacement\n" + good + last)
        with pytest.raises(ValueError, match=f"1 row\\(s\\) cannot be pairs: {message}"):
            pairs_from_csv(csv)
    csv.write_bytes(
        "sentence,word,replacement\nGr\u00fc\u00dfe aus K\u00f6ln.,K\u00f6ln,Bonn\n".encode(
            "latin-1"
        )
    )
    with pytest.raises(ValueError, match="is not UTF-8 text.*save the CSV as UTF-8"):
        pairs_from_csv(csv)
    csv.write_text('sentence,word,replacement\n"He drove his "car" today.,car,bike\n')
    with pytest.raises(ValueError, match="not a well-formed CSV.*quot"):
        pairs_from_csv(csv)
    with pytest.raises(ValueError, match="not a pair set"):
        load_pairs(tmp_path / "nothing.txt")


def test_pairs_from_csv_are_synthesised_content_pairs(tmp_path):
    csv = tmp_path / "pairs.csv"
    csv.write_text("sentence,word,replacement\nShe sent a letter to her sister.,sister,brother\n")
    (pair,) = pairs_from_csv(csv)
    assert pair.id == "001-sister-brother" and pair.kind == "content"
    assert pair.differing_words == ["sister", "brother"]
    assert len(pair.clean_audio) == len(pair.corrupt_audio)


def test_bootstrap_interval():
    assert bootstrap_interval(np.array([0.5, 0.5, 0.5])) == (0.5, 0.5)
    low, high = bootstrap_interval(np.array([0.0, 1.0, 0.0, 1.0]))
    assert 0.0 <= low < 0.5 < high <= 1.0
    assert all(np.isnan(bootstrap_interval(np.array([1.0]))))


def test_study_command_line_slow(tmp_path, capsys):
    with pytest.raises(SystemExit):  # checked before the model loads, printed as one line
        main(["study", "bundled", "--out", str(tmp_path), "--granularity", "syllables"])
    assert "granularity" in capsys.readouterr().err
    assert (
        main(
            [
                "study",
                "bundled",
                "--out",
                str(tmp_path),
                "--layers",
                "3",
                "--directions",
                "denoise",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["pairs"] == ["car-bike", "football-tennis", "paris-berlin"]
    changed = [r for r in report["summary"] if r["cells"] == "changed word"]
    assert changed and changed[0]["mean"] > 0.8
    for bad, message in (
        (["--mode", "adaptive", "--acts", "cross_heads"], "refines whole-layer acts only"),
        (["--mode", "adaptive", "--adaptive-threshold", "-1"], "adaptive_threshold must be >= 0"),
        (["--adaptive-window", "0"], "--adaptive-window"),
        (["--workers", "2"], "use it with --ray"),
        (["--mode", "verified", "--layer-chunk", "1"], "leave layer_chunk=None"),
    ):
        with pytest.raises(SystemExit):  # checked before the model loads
            main(["study", "bundled", "--out", str(tmp_path / "bad"), *bad])
        assert message in capsys.readouterr().err
    assert (
        main(
            [
                "study",
                "bundled",
                "--out",
                str(tmp_path / "adaptive"),
                "--layers",
                "3",
                "--directions",
                "denoise",
                "--mode",
                "adaptive",
                "--adaptive-window",
                "4",
                "--no-report",
                "--no-figures",
                "--json",
            ]
        )
        == 0
    )
    rows = pd.read_json(tmp_path / "adaptive" / "results.jsonl", lines=True)
    assert rows["exact"].all() and set(rows["n_cells"]) >= {1}
    assert json.loads((tmp_path / "adaptive" / "spec.json").read_text())["mode"] == "adaptive"


def test_a_pair_the_model_mishears_is_left_out_by_a_stated_rule(tiny_en, pairs):
    """The clean clip says 'He drove his car...' while the pair's text says 'Paris': the model
    does not hear the changed word, so the pair is left out with what it hears, unless the
    study is told to keep such pairs."""
    heard_elsewhere = dataclasses.replace(
        pairs["paris-berlin"],
        clean_audio=pairs["car-bike"].clean_audio,
        corrupt_audio=pairs["car-bike"].corrupt_audio,
        id="misheard",
    )
    spec = StudySpec(directions=("denoise",), layers=(0,), granularity="windows:0.5", min_gap=0.0)
    with pytest.raises(
        ValueError,
        match=r"(?s)misheard: the model hears 'He drove his car.*"
        r"without the changed word 'Paris'",
    ):
        run_study(tiny_en, [heard_elsewhere], spec, progress=False, out=lambda line: None)
    kept = run_study(
        tiny_en,
        [heard_elsewhere, pairs["paris-berlin"]],
        dataclasses.replace(spec, require_heard=False),
        progress=False,
        out=lambda line: None,
    )
    assert kept.pairs == ["misheard", "paris-berlin"] and not kept.skipped
