"""A study's folder is its own: links planted in it are replaced or refused, never followed; a
damaged or hand-edited file is named or redone, never read back as results; a refused study
writes nothing."""

from __future__ import annotations

import json
import os

import pytest

from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study.report import write_report

SPEC = StudySpec(directions=("denoise",), layers=(0,), granularity="windows:0.4")


@pytest.fixture(scope="module")
def pair():
    return {p.id: p for p in bundled_pairs()}["car-bike"]


def _study(model, pair, folder, spec=SPEC):
    return run_study(model, [pair], spec, out_dir=folder, progress=False, out=lambda line: None)


def test_links_planted_in_the_folder_are_replaced_not_followed_slow(tiny_en, pair, tmp_path):
    folder, outside = tmp_path / "study", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    written = ("skipped.json", "report.html")
    for name in (*written, "spec.json"):
        (outside / name).write_text("precious")
    for name in written:
        os.symlink(outside / name, folder / name)
    result = _study(tiny_en, pair, folder)
    write_report(result, [pair], folder, model=tiny_en, model_name="tiny.en")
    for name in written:
        assert (outside / name).read_text() == "precious", name
        assert not (folder / name).is_symlink() and (folder / name).stat().st_size > 0
    # a file the study reads back is refused as a link, before anything else happens
    (folder / "spec.json").unlink()
    os.symlink(outside / "spec.json", folder / "spec.json")
    with pytest.raises(ValueError, match=r"spec.json is a symlink"):
        _study(tiny_en, pair, folder)
    assert (outside / "spec.json").read_text() == "precious"


def test_linked_results_are_refused_on_resume(tiny_en, pair, tmp_path):
    folder, outside = tmp_path / "study", tmp_path / "outside.jsonl"
    _study(tiny_en, pair, folder)
    outside.write_text("")
    (folder / "results.jsonl").unlink()
    os.symlink(outside, folder / "results.jsonl")
    with pytest.raises(ValueError, match=r"results.jsonl is a symlink.*Remove the link"):
        _study(tiny_en, pair, folder)
    assert outside.read_text() == ""


def test_edited_rows_are_recomputed_and_a_cut_off_line_is_dropped_slow(
    tiny_en, pair, tmp_path, monkeypatch
):
    folder = tmp_path / "study"
    first = _study(tiny_en, pair, folder)
    lines = (folder / "results.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["normalised"] = 123.0  # a hand edit
    (folder / "results.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.warns(UserWarning, match="differ from what the study wrote"):
        again = _study(tiny_en, pair, folder)
    assert again.rows.equals(first.rows) and 123.0 not in set(again.rows["normalised"])
    # a crash while appending leaves half a line: dropped, the rest resumes without rerunning
    with open(folder / "done.jsonl", "a") as f:
        f.write('{"unit": "car-bike|den')

    def no_sweeps(*args, **kwargs):
        raise AssertionError("a finished unit was run again")

    monkeypatch.setattr("hooked_audio.study.units.layer_sweep", no_sweeps)
    with pytest.warns(UserWarning, match="cut off mid-write"):
        resumed = _study(tiny_en, pair, folder)
    assert resumed.rows.equals(first.rows)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("spec.json", '{"model": "tiny', r"spec.json \(the study's design\) is not valid JSON"),
        ("done.jsonl", 'not json\n"x"\n', r"done.jsonl, line 1: not JSON"),
        ("results.jsonl", "[1, 2]\n", r"results.jsonl: a line is not a result row"),
    ],
)
def test_damaged_files_are_named(tiny_en, pair, tmp_path, name, content, message):
    folder = tmp_path / "study"
    _study(tiny_en, pair, folder)
    (folder / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        _study(tiny_en, pair, folder)


def test_a_refused_study_writes_nothing(tiny_en, pair, tmp_path):
    folder = tmp_path / "study"
    with pytest.raises(ValueError, match="layer"):
        _study(tiny_en, pair, folder, StudySpec(layers=(9,)))
    assert not folder.exists()
    _study(tiny_en, pair, folder)  # the corrected command is not refused as another design
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        _study(tiny_en, pair, tmp_path / "file")
