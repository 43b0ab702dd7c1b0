"""Minimal pairs against noise: peak recovery and sharpness, and the command line pieces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hooked_audio.cli import main
from hooked_audio.commands.study import parse_noise
from hooked_audio.pairs import PairSet, bundled_pairs
from hooked_audio.study.corruption_comparison import (
    NoiseCorruption,
    compare_corruptions,
    corruption_table,
    map_scores,
)


def test_map_scores_by_hand():
    centres = np.array([0.05, 0.15, 0.25, 0.35, 0.45])
    normalised = np.array([0.1, -0.5, 0.9, 0.3, 0.0])
    peak, sharpness = map_scores(normalised, centres, (0.2, 0.3), margin_s=0.0)
    assert peak == 0.9 and sharpness == pytest.approx(0.9 / 1.3)
    _, wider = map_scores(normalised, centres, (0.2, 0.3), margin_s=0.1)
    assert wider == pytest.approx(1.2 / 1.3)
    assert np.isnan(map_scores(np.zeros(5), centres, (0.2, 0.3), 0.1)[1])


def test_minimal_pairs_and_noise_compared_slow(tiny_en):
    pair = next(p for p in bundled_pairs() if p.id == "car-bike")
    noises = [NoiseCorruption("white", 0.0, "clip"), NoiseCorruption("pink", 40.0, "word")]
    rows = compare_corruptions(
        tiny_en, [pair], noises, layers=(0,), granularity="words", progress=False
    )
    assert list(rows["corruption"]) == ["minimal pair", noises[0].name, noises[1].name]
    minimal = rows[rows["corruption"] == "minimal pair"].iloc[0]
    assert minimal["usable"] and minimal["peak"] > 0.8 and minimal["sharpness"] > 0.8
    # pink noise 40 dB under the word barely moves the contrast: reported, not averaged
    quiet = rows[rows["corruption"] == noises[1].name].iloc[0]
    assert not quiet["usable"] and np.isnan(quiet["peak"])
    table = corruption_table(rows)
    assert set(table["corruption"]) == set(rows["corruption"])
    assert table.set_index("corruption").loc[noises[1].name, "usable_pairs"] == 0


def test_noise_specs_are_checked():
    assert parse_noise("pink:10:word:3") == NoiseCorruption("pink", 10.0, "word", 3)
    for bad in ("white:0", "brown:0:clip", "white:x:clip", "white:0:span"):
        with pytest.raises(ValueError, match="compare-noise"):
            parse_noise(bad)


def test_version_and_pairs_build(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and "hooked-audio 0." in capsys.readouterr().out
    csv = tmp_path / "pairs.csv"
    csv.write_text("sentence,word,replacement\nShe sent a letter to her sister.,sister,brother\n")
    assert main(["pairs", "build", str(csv), str(tmp_path / "set")]) == 0
    (pair,) = PairSet.load(tmp_path / "set")
    assert pair.differing_words == ["sister", "brother"]
    capsys.readouterr()
    assert main(["pairs", "build", str(csv), str(tmp_path / "again"), "--json"]) == 0
    (written,) = json.loads(capsys.readouterr().out)["pairs"]
    assert written["differing_words"] == ["sister", "brother"]
    # the JSON describes what was written (espeak-ng's timing varies by a few samples per run)
    (again,) = PairSet.load(tmp_path / "again")
    assert written["spans_s"] == [list(span) for span in again.spans_s]
    with pytest.raises(SystemExit) as stop:
        main(["pairs", "build", str(tmp_path / "missing.csv"), str(tmp_path / "x")])
    assert stop.value.code == 2 and "no such CSV" in capsys.readouterr().err


def test_study_command_compares_noise_slow(tmp_path, capsys):
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
                "--granularity",
                "words",
                "--compare-noise",
                "white:0:clip",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    names = {row["corruption"] for row in report["corruptions"]}
    assert names == {"minimal pair", "white noise 0 dB (clip, seed 0)"}
    assert (tmp_path / "corruptions.jsonl").exists()
    figures = tmp_path / "figures"
    expected = ["onsets_resid_pre.png"] + [f"pair_{p}_resid_pre.png" for p in report["pairs"]]
    wanted = [str(figures / name) for name in [*expected, "corruptions.png"]]
    assert sorted(report["figures"]) == sorted(wanted)
    for path in report["figures"]:
        with open(path, "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"


def test_pairs_build_writes_as_it_goes_and_resumes(tmp_path, capsys, monkeypatch):
    """A build stopped part-way keeps the pairs it made; run again, it makes only the rest;
    a CSV with a bad row writes nothing; resuming from another CSV is refused."""
    from hooked_audio.study import pair_source

    csv = tmp_path / "pairs.csv"
    csv.write_text(
        "sentence,word,replacement\n"
        "She sent a letter to her sister.,sister,brother\n"
        "He drove his car to the station.,car,bike\n"
        "We will meet in Paris next summer.,Paris,Berlin\n"
    )
    out = tmp_path / "set"
    real, made = pair_source.content_pair, []

    def crashing(pair_id, *args, **kwargs):
        if len(made) == 2:
            raise KeyboardInterrupt  # the machine goes down during the third pair
        made.append(pair_id)
        return real(pair_id, *args, **kwargs)

    monkeypatch.setattr(pair_source, "content_pair", crashing)
    with pytest.raises(KeyboardInterrupt):
        main(["pairs", "build", str(csv), str(out)])
    assert [p.id for p in PairSet.load(out)] == made
    monkeypatch.setattr(
        pair_source, "content_pair", lambda *a, **k: made.append(a[0]) or real(*a, **k)
    )
    capsys.readouterr()
    assert main(["pairs", "build", str(csv), str(out)]) == 0
    assert "Resuming: 2 pairs already built" in capsys.readouterr().out
    assert len(made) == 3  # only the third was made again
    assert [p.differing_words[0] for p in PairSet.load(out)] == ["sister", "car", "Paris"]
    csv.write_text(csv.read_text() + "They sat under the old tree.,tree,bench\n")
    with pytest.raises(SystemExit) as stop:
        main(["pairs", "build", str(csv), str(out)])
    assert stop.value.code == 2 and "was built from another file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text(csv.read_text() + "He drove his car.,bus,bike\n")
    with pytest.raises(SystemExit):
        main(["pairs", "build", str(bad), str(tmp_path / "never")])
    assert "row 5" in capsys.readouterr().err and not (tmp_path / "never").exists()
