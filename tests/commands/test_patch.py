"""`hooked-audio patch`: a bundled content pair, saved as two plain wav files, patched per layer
and word on the real tiny.en; the changed word's frames, and only those, bring the clean word
back. Bad input refused in one line before the model loads."""

from __future__ import annotations

import json
from importlib.resources import files

import pandas as pd
import pytest
import soundfile

from hooked_audio.corruptions import speed
from hooked_audio.pairs import bundled_pairs
from tests.commands.conftest import one_line_error

PAIRS = files("hooked_audio") / "data" / "pairs"


@pytest.fixture(scope="module")
def pair():
    return bundled_pairs()[0]  # paris-berlin: "We will meet in Paris/Berlin next summer."


@pytest.fixture
def wav_pair(pair, tmp_path):
    """The pair as two wav files outside any pair set, and its word times as a CSV."""
    clean, corrupt, words = tmp_path / "clean.wav", tmp_path / "corrupt.wav", tmp_path / "w.csv"
    soundfile.write(clean, pair.clean_audio, 16000)
    soundfile.write(corrupt, pair.corrupt_audio, 16000)
    pd.DataFrame(pair.meta["clean_words"], columns=["word", "start", "end"]).to_csv(
        words, index=False
    )
    return clean, corrupt, words


def patch_json(cli, *argv) -> dict:
    run = cli("patch", *argv, "--layers", "0", "--direction", "denoise", "--json")
    assert run.code == 0, run.err
    return json.loads(run.out)


def test_patch_localises_the_changed_word(cli, model_loads, wav_pair, pair, tmp_path):
    clean, corrupt, words = wav_pair
    report = patch_json(cli, clean, corrupt, "--words", words, "--out", tmp_path / "out")
    assert (report["changed_word"], report["replacement"]) == tuple(pair.differing_words)
    assert report["cells"] == [word for word, _, _ in pair.meta["clean_words"]]
    recovery = report["directions"]["denoise"]["normalised"][0]  # layer 0
    changed = report["cells"].index("Paris")
    assert recovery[changed] > 0.8
    assert max(abs(v) for i, v in enumerate(recovery) if i != changed) < 0.2
    rows = pd.read_json(tmp_path / "out" / "results.jsonl", lines=True)
    assert len(rows) == len(report["cells"]) and rows["in_changed_word"].sum() == 1
    assert rows.loc[rows["in_changed_word"], "normalised"].item() == pytest.approx(
        recovery[changed]
    )
    assert (tmp_path / "out" / "recovery_denoise.png").stat().st_size > 10_000


def test_without_word_times_the_changed_word_is_timed_by_where_the_clips_differ(
    cli, model_loads, wav_pair, pair
):
    """Without reference times the cells are openai-whisper's word timestamps over the heads
    found on recorded speech (off on tiny.en: "Paris" at 1.06-1.24 s), except the changed word,
    timed by the sound: its cell alone then holds the recovery."""
    clean, corrupt, _ = wav_pair
    report = patch_json(cli, clean, corrupt)
    assert report["word_times"].startswith(
        "openai-whisper's word timestamps (DTW over the 10 cross-attention heads found on "
        "recorded speech for tiny.en), 'Paris' moved"
    )
    changed = report["cells"].index("Paris")
    start, end = report["cell_seconds"][changed]
    assert start == pytest.approx(pair.spans_s[0][0], abs=0.04)
    assert end == pytest.approx(pair.spans_s[0][1], abs=0.08)
    recovery = report["directions"]["denoise"]["normalised"][0]
    assert recovery[changed] > 0.8
    assert max(abs(v) for i, v in enumerate(recovery) if i != changed) < 0.2


def test_align_warps_a_slower_recording_onto_the_clean_one(cli, model_loads, wav_pair, pair):
    clean, _, words = wav_pair
    slower = clean.parent / "slower.wav"
    soundfile.write(slower, speed(pair.corrupt_audio, 0.9), 16000)
    refused = one_line_error(cli("patch", clean, slower, "--words", words), "patch")
    assert "must have the same length. Pass --align" in refused
    report = patch_json(cli, clean, slower, "--words", words, "--align")
    assert 0 < report["alignment_score"] < 0.4
    recovery = report["directions"]["denoise"]["normalised"][0]
    changed = report["cells"].index("Paris")
    assert recovery[changed] > 0.8
    assert max(abs(v) for i, v in enumerate(recovery) if i != changed) < 0.2


def test_a_named_change_stands_in_for_the_corrupt_transcript(cli, model_loads, wav_pair):
    clean, corrupt, words = wav_pair
    heard = patch_json(cli, clean, corrupt, "--words", words)
    named = patch_json(cli, clean, corrupt, "--words", words, "--change", "paris", "Berlin")
    assert (heard["named_change"], named["named_change"]) == (False, True)
    assert named["corrupt_text"] == "We will meet in Berlin next summer"  # the words given
    assert named["directions"] == heard["directions"]
    error = one_line_error(cli("patch", clean, corrupt, "--change", "London", "Rome"), "patch")
    assert "The change 'London' -> 'Rome' needs one word that occurs once" in error


def test_clips_without_one_changed_word_are_refused(cli, model_loads, wav_pair):
    clean, _, _ = wav_pair
    error = one_line_error(cli("patch", clean, clean), "patch")
    assert "(no difference): a minimal pair here needs texts that differ in exactly one word" in (
        error
    )
    assert "--change WORD REPLACEMENT" in error


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--granularity", "tokens"], "granularity must be 'words', 'frames' or 'windows:"),
        (["--min-gap", "-1"], "--min-gap must be a number >= 0"),
        (["--layers", "-1"], "argument --layers: expected an integer >= 0"),
    ],
)
def test_bad_options_are_refused_before_the_model_loads(cli, no_model, wav_pair, extra, message):
    clean, corrupt, _ = wav_pair
    assert message in one_line_error(cli("patch", clean, corrupt, *extra), "patch")


def test_bad_word_times_are_refused_before_the_model_loads(cli, no_model, wav_pair, tmp_path):
    clean, corrupt, _ = wav_pair
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("Paris,0.9,1.3\n")
    late = tmp_path / "late.csv"
    late.write_text("word,start,end\nParis,0.9,1.3\nsummer,4.0,4.5\n")
    for words, message in (
        (no_header, "no column word, start, end"),
        (late, "word 2 ('summer', 4-4.5 s): starts after the clip ends (2.13 s)"),
    ):
        error = one_line_error(cli("patch", clean, corrupt, "--words", words), "patch")
        assert message in error


def test_out_never_replaces_another_commands_files(cli, no_model, wav_pair, tmp_path):
    """`--out` that is a file, or a non-empty folder another command wrote, is refused before
    the model loads (a study's results.jsonl is not replaced); --overwrite lets it through."""
    clean, corrupt, words = wav_pair
    study = tmp_path / "a-study"
    study.mkdir()
    (study / "results.jsonl").write_text('{"pair": "p"}\n')
    error = one_line_error(cli("patch", clean, corrupt, "--out", study), "patch")
    assert "is not empty (results.jsonl) and was written by something else" in error
    assert "--overwrite" in error
    assert (study / "results.jsonl").read_text() == '{"pair": "p"}\n'
    (tmp_path / "file").write_text("")
    error = one_line_error(cli("patch", clean, corrupt, "--out", tmp_path / "file"), "patch")
    assert "is a file, not a folder" in error


def test_out_is_rewritten_by_patch_itself_slow(cli, model_loads, wav_pair, tmp_path):
    clean, corrupt, words = wav_pair
    out = tmp_path / "out"
    for _ in range(2):  # the second run replaces the first's files: patch wrote them
        run = cli("patch", clean, corrupt, "--words", words, "--layers", "0", "--out", out)
        assert run.code == 0, run.err
    (out / ".hooked-audio.json").write_text('{"command": "study"}')  # now another's folder
    error = one_line_error(
        cli("patch", clean, corrupt, "--words", words, "--layers", "0", "--out", out), "patch"
    )
    assert "written by `hooked-audio study`" in error
    run = cli(
        "patch", clean, corrupt, "--words", words, "--layers", "0", "--out", out, "--overwrite"
    )
    assert run.code == 0, run.err


def test_layers_beyond_the_model_are_refused_before_any_work(
    cli, model_loads, monkeypatch, wav_pair
):
    monkeypatch.setattr(
        "hooked_audio.models.whisper.transcribed_pair.transcribed_pair",
        lambda *a, **k: pytest.fail("the clips were transcribed before the layers were checked"),
    )
    clean, corrupt, words = wav_pair
    error = one_line_error(cli("patch", clean, corrupt, "--layers", "9"), "patch")
    assert "Layers must lie in [0, 4)" in error
