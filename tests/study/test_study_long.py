"""Studies of pairs longer than Whisper's 30 s window: each is patched in the one window where
its clean and corrupt recordings differ, with every time in seconds of the recording. A bundled
pair placed 30 s into a recording of the same speech in both takes must give what the pair
alone gives, 30 s later; a pair changed in two windows is left out with why."""

from __future__ import annotations

import dataclasses
import json
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hooked_audio.models.loading import load_model, model_family  # noqa: E402
from hooked_audio.models.whisper.long_pair import window_of_change  # noqa: E402
from hooked_audio.pairs import bundled_pairs  # noqa: E402
from hooked_audio.study import StudySpec, run_study  # noqa: E402
from hooked_audio.study.report import time_span, write_report  # noqa: E402
from tests.helpers.audio_lm_models import audio_lm_checkpoint  # noqa: E402
from tests.helpers.long_pairs import FILLER_WORD, OFFSET_S, embedded_pair  # noqa: E402

WINDOW = 480_000  # Whisper's 30 s at 16 kHz
SPEC = StudySpec(layers=(0,), directions=("denoise",), granularity="words")


@pytest.fixture(scope="module")
def pair():
    return {p.id: p for p in bundled_pairs()}["paris-berlin"]


def changed_in_two_windows(pair):
    """The long pair with its first window changed too (a click at 1 s in the corrupt take)."""
    long = embedded_pair(pair)
    corrupt = long.corrupt_audio.copy()
    corrupt[16000:16100] += 0.01
    long.corrupt_audio = corrupt
    return long


def test_a_long_pair_is_cut_to_its_window_of_change(pair):
    """The cut pair is the short pair: the window's audio, texts without the filler's word,
    word times and spans back in seconds of the window, and where the window lies."""
    long = embedded_pair(pair)
    window = window_of_change(long, WINDOW)
    cut = window.pair
    assert (window.start_s, window.window, window.n_windows) == (OFFSET_S, 1, 2)
    assert window.end_s == pytest.approx(OFFSET_S + len(pair.clean_audio) / 16000)
    assert np.array_equal(cut.clean_audio, pair.clean_audio)
    assert np.array_equal(cut.corrupt_audio, pair.corrupt_audio)
    words = [w for w, _, _ in pair.meta["clean_words"]]
    assert cut.clean_text == " ".join(words) and FILLER_WORD[0] not in cut.clean_text
    assert cut.corrupt_text == " ".join("Berlin" if w == "Paris" else w for w in words)
    np.testing.assert_allclose(
        [[a, b] for _, a, b in cut.meta["clean_words"]],
        [[a, b] for _, a, b in pair.meta["clean_words"]],
        atol=1e-9,
    )
    np.testing.assert_allclose(cut.spans_s, pair.spans_s, atol=1e-9)
    assert cut.meta["changed_index"] == words.index("Paris")
    whole = window_of_change(pair, WINDOW)  # a pair of one window is read whole
    assert whole.pair is pair and (whole.start_s, whole.n_windows) == (0.0, 1)


def test_a_long_pair_the_window_cannot_hold_is_refused_by_name(pair):
    with pytest.raises(ValueError, match=r"differ in 2 of their 30 s windows \(from 0 s, 30 s\)"):
        window_of_change(changed_in_two_windows(pair), WINDOW)
    long = embedded_pair(pair)
    same = dataclasses.replace(long, corrupt_audio=long.clean_audio)
    with pytest.raises(ValueError, match="are the same samples"):
        window_of_change(same, WINDOW)
    untimed = embedded_pair(pair)
    untimed.meta = {k: v for k, v in untimed.meta.items() if k != "clean_words"}
    with pytest.raises(ValueError, match=r"lacks \(meta\['clean_words'\]\)"):
        window_of_change(untimed, WINDOW)


def test_a_long_pair_changed_in_two_windows_is_left_out_with_why(tiny_en, pair, tmp_path):
    """Left out in planning (no forward), listed in skipped.json with the reason."""
    twice = changed_in_two_windows(pair)
    with pytest.raises(ValueError, match=r"(?s)No pair could be studied.*differ in 2 of their"):
        run_study(tiny_en, [twice], SPEC, out_dir=tmp_path, progress=False)
    skipped = json.loads((tmp_path / "skipped.json").read_text())
    assert [s["pair"] for s in skipped] == [twice.id]
    assert "differ in 2 of their 30 s windows" in skipped[0]["reason"]


def test_an_audio_lm_refuses_a_pair_longer_than_its_window(pair, tmp_path):
    """The tiny audio LM's processor has a 3 s window: a pair 3 s into a recording is longer,
    and is refused with why, not cut silently."""
    family = model_family(load_model(audio_lm_checkpoint(tmp_path / "lm")))
    with pytest.raises(ValueError, match=r"Pair 'paris-berlin-at-3s': .*3 s window.*Whisper"):
        family.pair_window(embedded_pair(pair, offset_s=3.0))
    assert family.pair_window(pair).pair is pair


def test_a_long_pair_studies_as_the_short_pair_30_s_later_slow(tiny_en, pair, tmp_path):
    """Same effects as the pair alone in window 0; every time 30 s later (rows, figure, report);
    the cost line says only the window of change runs."""
    lines: list[str] = []
    short = run_study(tiny_en, [pair], SPEC, progress=False, out=lambda line: None)
    long_pair = embedded_pair(pair)
    long = run_study(tiny_en, [long_pair], SPEC, progress=False, out=lines.append)
    a, b = short.rows, long.rows
    assert len(a) == len(b) == len(pair.meta["clean_words"]) and list(a["label"]) == list(
        b["label"]
    )
    np.testing.assert_allclose(b["value"], a["value"], atol=1e-4)
    np.testing.assert_allclose(b["normalised"], a["normalised"], atol=1e-5)
    np.testing.assert_allclose(
        b[["clean_value", "corrupt_value"]], a[["clean_value", "corrupt_value"]], atol=1e-4
    )
    for column in ("start_s", "end_s", "onset_s", "offset_s"):
        np.testing.assert_allclose(b[column], a[column] + OFFSET_S, atol=1e-9)
    np.testing.assert_allclose(
        b[["rel_start_s", "rel_end_s"]], a[["rel_start_s", "rel_end_s"]], atol=1e-9
    )
    assert (b["window_start_s"] == OFFSET_S).all() and (a["window_start_s"] == 0).all()
    assert list(long.in_changed_word()) == list(short.in_changed_word())
    cost = lines[0]
    assert f"{long_pair.id}: window 1 (from 0) of 2, 30-32.13 s" in cost
    assert "runs only the one window where its clean and corrupt recordings differ" in cost

    figure = long.plot_pair(long_pair)  # the window's log-mel and cells at recording times
    mel_ax, denoise_ax = figure.axes[:2]
    assert mel_ax.get_xlim() == pytest.approx((OFFSET_S, b["window_end_s"].iloc[0]), abs=0.011)
    pieces = np.array([p.vertices[:, 0] for p in denoise_ax.collections[0].get_paths()])
    assert pieces.min() == pytest.approx(b["start_s"].min(), abs=1e-6)
    assert pieces.max() == pytest.approx(b["end_s"].max(), abs=1e-6)
    plt.close(figure)

    assert time_span(long_pair, b) == (OFFSET_S, pytest.approx(32.129, abs=1e-3))
    html = write_report(long, [long_pair], tmp_path, model=tiny_en).read_text()
    assert "recording: only 30-32.13 s, the window where the clean and corrupt" in html
    heard = re.findall(r'class="heard">the model hears[^:]*: ([^<]*)<', html)
    assert len(heard) == 2 and "Paris" in heard[0] and "Berlin" in heard[1]  # the window's
