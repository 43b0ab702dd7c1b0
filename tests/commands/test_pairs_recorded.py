"""Pair sets from recordings (`hooked-audio pairs build` on a CSV of clean,corrupt takes): the
takes aligned and transcribed as `patch --align` does, reference word times carried into the
set, the study localising the changed word on them, and every bad row named."""

from __future__ import annotations

import json
import shutil

import pytest
import soundfile

from hooked_audio.pairs import PairSet
from hooked_audio.recordings import held_out_take, recorded_pair
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study.recorded_pairs import pairs_from_recordings
from hooked_audio.study.report import write_report
from hooked_audio.word_times import write_csv

#: reference times for the "puddy" take, written for the test (not the model's): the changed
#: word is given a span of its own choosing, which the pair set must carry as it is.
PUDDY_WORDS = (
    ("MFA", 0.30, 1.02),
    ("is", 1.02, 1.30),
    ("like", 1.30, 1.80),
    ("putty.", 1.80, 2.40),
)


@pytest.fixture()
def takes(tmp_path):
    for path in recorded_pair():
        shutil.copy(path, tmp_path / path.name)
    write_csv(PUDDY_WORDS, tmp_path / "puddy_words.csv")
    return tmp_path


def write_rows(folder, *rows: str, header: str = "clean,corrupt,words,change,id"):
    path = folder / "pairs.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_takes_become_an_aligned_pair_with_the_reference_times_given(tiny_en, takes):
    csv = write_rows(
        takes,
        "mfa_puddy.flac,mfa_buddy.flac,,,timed-by-model",
        "mfa_puddy.flac,mfa_buddy.flac,puddy_words.csv,,timed-by-reference",
    )
    by_model, by_reference = pairs_from_recordings(tiny_en, csv, progress=False)
    for pair in (by_model, by_reference):
        assert pair.differing_words == ["putty", "buddy"]
        assert pair.alignment_score is not None  # the takes differ in length: aligned
        assert len(pair.clean_audio) == len(pair.corrupt_audio)
        assert pair.meta["recordings"] == {"clean": "mfa_puddy.flac", "corrupt": "mfa_buddy.flac"}
    assert by_reference.meta["clean_words"] == [list(word) for word in PUDDY_WORDS]
    assert by_reference.spans_s == [(1.80, 2.40)]
    assert by_reference.meta["word_times"] == "puddy_words.csv"
    assert "openai-whisper's word timestamps" in by_model.meta["word_times"]


def test_the_built_set_is_studied_with_word_cells_from_its_reference_times(
    cli, model_loads, tiny_en, takes
):
    csv = write_rows(takes, "mfa_puddy.flac,mfa_buddy.flac,puddy_words.csv,,puddy-buddy")
    run = cli("pairs", "build", csv, takes / "set", "--json")
    assert run.code == 0, run.err
    built = json.loads(run.out)["pairs"][0]
    assert built["word_times"] == "puddy_words.csv" and built["alignment_score"] > 0
    pairs = PairSet.load(takes / "set")
    result = run_study(
        tiny_en, pairs, StudySpec(layers=(0,)), progress=False, out=lambda line: None
    )
    rows = result.rows
    assert list(rows[rows["direction"] == "denoise"]["label"]) == ["MFA", "is", "like", "putty."]
    in_word = result.in_changed_word()
    denoise = rows["direction"] == "denoise"
    assert rows[denoise & in_word]["normalised"].item() > 0.7
    assert (rows[denoise & ~in_word]["normalised"].abs() < 0.2).all()


def test_a_warp_that_changes_what_is_heard_names_the_change_column(tiny_en, takes):
    soundfile.write(takes / "mfa_poofy.flac", held_out_take("mfa_poofy"), 16000)
    csv = write_rows(takes, "mfa_buddy.flac,mfa_poofy.flac,,,buddy-poofy")
    with pytest.raises(ValueError, match="row 1: ") as refused:
        pairs_from_recordings(tiny_en, csv, progress=False)
    assert "the time warp of --align changed what the model hears" in str(refused.value)
    assert "set its change column to 'Buddy poofy'" in str(refused.value)
    named = write_rows(takes, "mfa_buddy.flac,mfa_poofy.flac,,Buddy poofy,buddy-poofy")
    (pair,) = pairs_from_recordings(tiny_en, named, progress=False)
    assert pair.differing_words == ["Buddy", "poofy"]


@pytest.mark.parametrize(
    ("row", "header", "message"),
    [
        ("../mfa_puddy.flac,mfa_buddy.flac", "clean,corrupt", "outside the CSV's folder"),
        ("/etc/hosts,mfa_buddy.flac", "clean,corrupt", "outside the CSV's folder"),
        ("mfa_puddy.flac,missing.flac", "clean,corrupt", "'missing.flac': no such file"),
        ("mfa_puddy.flac,", "clean,corrupt", "row 1: corrupt is empty"),
        ("mfa_puddy.flac,mfa_buddy.flac,putty", "clean,corrupt,change", "change is 'putty'"),
        ("mfa_puddy.flac,mfa_buddy.flac,x", "clean,corrupt,speaker", "header is"),
        ("mfa_puddy.flac,mfa_buddy.flac,../x y", "clean,corrupt,id", "MinimalPair id"),
    ],
)
def test_bad_rows_are_refused_by_row_before_the_model_runs(takes, row, header, message):
    csv = write_rows(takes, row, header=header)
    with pytest.raises(ValueError, match=message):
        pairs_from_recordings(None, csv, progress=False)  # no model: refused before using it


def test_words_that_are_not_the_clean_takes_are_refused(tiny_en, takes):
    write_csv((("MFA", 0.3, 1.0), ("is", 1.0, 9.0)), takes / "long.csv")
    csv = write_rows(takes, "mfa_puddy.flac,mfa_buddy.flac,long.csv,,p")
    with pytest.raises(ValueError, match=r"row 1: 'mfa_puddy.flac', word 2 .* ends after the clip"):
        pairs_from_recordings(tiny_en, csv, progress=False)


def test_pairs_with_estimated_word_times_get_a_time_axis_check(tiny_en, takes, tmp_path):
    """Without reference times the word cells come from the model's estimate, so the study also
    sweeps 0.06 s windows around the changed word and says how much of the effect its cell
    holds (summary line, report, time_axis.json); reference-timed pairs need no check."""
    estimated = write_rows(takes, "mfa_puddy.flac,mfa_buddy.flac,,,estimated")
    referenced = takes / "referenced.csv"
    referenced.write_text(
        "clean,corrupt,words,change,id\nmfa_puddy.flac,mfa_buddy.flac,puddy_words.csv,,ref\n"
    )
    pairs = pairs_from_recordings(tiny_en, estimated, progress=False)
    assert pairs[0].meta["word_times"].startswith("openai-whisper's word timestamps")
    result = run_study(
        tiny_en,
        pairs,
        StudySpec(layers=(0,)),
        out_dir=tmp_path,
        progress=False,
        out=lambda line: None,
    )
    assert [row["direction"] for row in result.time_axis] == ["denoise", "noise"]
    changed = result.rows[result.in_changed_word() & (result.rows["direction"] == "denoise")]
    for row in result.time_axis:
        assert row["pair"] == "estimated" and row["layer"] == 0
        assert 0.0 <= row["inside_share"] <= 1.0
        assert row["suspect"] == (
            row["inside_share"] < 0.6 or not row["cell_s"][0] <= row["peak_s"] <= row["cell_s"][1]
        )
        assert (
            row["cell_s"][0] <= changed["end_s"].item()
            and row["cell_s"][1] >= changed["start_s"].item()
        )
    assert json.loads((tmp_path / "time_axis.json").read_text()) == result.time_axis
    report = write_report(result, pairs, tmp_path, model=tiny_en, model_name="tiny.en")
    assert "Time-axis check (0.06 s windows): denoise: " in report.read_text()
    ref_pairs = pairs_from_recordings(tiny_en, referenced, progress=False)
    ref_result = run_study(
        tiny_en, ref_pairs, StudySpec(layers=(0,)), progress=False, out=lambda line: None
    )
    assert ref_result.time_axis == []


def test_a_recordings_csv_that_is_not_utf8_or_well_quoted_is_named(tmp_path):
    latin = tmp_path / "takes.csv"
    latin.write_bytes("clean,corrupt\nk\u00f6ln.flac,bonn.flac\n".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text.*save the CSV as UTF-8"):
        pairs_from_recordings(None, latin, progress=False)
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('clean,corrupt\n"a "b" c.flac,d.flac\n')
    with pytest.raises(ValueError, match="not a well-formed CSV"):
        pairs_from_recordings(None, quoted, progress=False)
