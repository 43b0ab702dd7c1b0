"""`hooked-audio patch` on recordings longer than Whisper's 30 s window: the window where the
two recordings differ is patched, and every time comes back in seconds of the recording. Put
a bundled pair in the second window of a 35 s recording (the first window, the same speech in
both) and the command must report what it reports for the pair alone, 30 s later."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile

from tests.commands.conftest import one_line_error
from tests.commands.test_patch import pair, patch_json, wav_pair  # noqa: F401 (fixtures)
from tests.helpers.long_pairs import OFFSET_S as OFFSET
from tests.helpers.long_pairs import embedded_pair


@pytest.fixture
def long_pair(pair, tmp_path):  # noqa: F811
    """The pair after 30 s of other speech (the pair's clean clip, repeated), words shifted
    (`tests.helpers.long_pairs`, which the study's long-pair tests share)."""
    long = embedded_pair(pair, OFFSET)
    paths = {}
    for name, audio in (("clean", long.clean_audio), ("corrupt", long.corrupt_audio)):
        paths[name] = tmp_path / f"long_{name}.wav"
        soundfile.write(paths[name], audio, 16000)
    words = tmp_path / "long_words.csv"
    pd.DataFrame(long.meta["clean_words"], columns=["word", "start", "end"]).to_csv(
        words, index=False
    )
    return paths["clean"], paths["corrupt"], words


def test_a_long_recording_is_patched_in_the_window_of_its_change_slow(
    cli,
    model_loads,
    wav_pair,  # noqa: F811
    long_pair,
    tmp_path,
):
    short_clean, short_corrupt, short_words = wav_pair
    short = patch_json(cli, short_clean, short_corrupt, "--words", short_words)
    clean, corrupt, words = long_pair
    long = patch_json(cli, clean, corrupt, "--words", words, "--out", tmp_path / "out")
    assert (long["window"], long["window_start_s"]) == (1, OFFSET)
    assert short["window"] is None and long["cells"] == short["cells"]
    assert long["changed_word"] == short["changed_word"]
    assert np.allclose(np.array(long["cell_seconds"]), np.array(short["cell_seconds"]) + OFFSET)
    assert np.allclose(
        long["directions"]["denoise"]["normalised"],
        short["directions"]["denoise"]["normalised"],
        atol=1e-4,
    )
    axis, short_axis = long["time_axis"]["denoise"], short["time_axis"]["denoise"]
    assert np.allclose(np.array(axis["cell_seconds"]), np.array(short_axis["cell_seconds"]) + 30)
    assert axis["peak_s"] == pytest.approx(short_axis["peak_s"] + OFFSET)
    assert axis["inside_share"] == pytest.approx(short_axis["inside_share"], abs=1e-4)
    rows = pd.read_json(tmp_path / "out" / "results.jsonl", lines=True)
    assert rows["start_s"].min() >= OFFSET
    assert (tmp_path / "out" / "recovery_denoise.png").stat().st_size > 10_000


def test_long_recordings_that_differ_in_two_windows_or_not_at_all_are_refused(
    cli, long_pair, tmp_path
):
    clean, _, _ = long_pair
    audio, _ = soundfile.read(clean, dtype="float32")
    twice = audio.copy()
    twice[16000:16100] += 0.01  # a change in window 0 too
    twice[-100:] += 0.01  # and in window 1
    other = tmp_path / "twice.wav"
    soundfile.write(other, twice, 16000)
    assert "differ in 2 of their 30 s windows (from 0 s, 30 s)" in one_line_error(
        cli("patch", clean, other), "patch"
    )
    assert "are the same samples" in one_line_error(cli("patch", clean, clean), "patch")
    assert "--align warps clips of one window" in one_line_error(
        cli("patch", clean, other, "--align"), "patch"
    )
    shorter = tmp_path / "shorter.wav"
    soundfile.write(shorter, audio[:-1600], 16000)
    assert "a long recording is patched window by window" in one_line_error(
        cli("patch", clean, shorter), "patch"
    )
