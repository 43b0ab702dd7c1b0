"""A study's matplotlib figures show what the result holds: each pair's cells at their true
times with their recoveries, word labels and the changed word from the data, the onset curves'
means, the comparison's bars; and `hooked-audio study` writes them as PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from hooked_audio.pairs import bundled_pairs  # noqa: E402
from hooked_audio.study import StudySpec, run_study  # noqa: E402
from hooked_audio.study.figures import corruption_figure  # noqa: E402
from hooked_audio.study.result import StudyResult  # noqa: E402
from tests.helpers.figure_text import cut_off_text  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def study(tiny_en):
    pairs = {p.id: p for p in bundled_pairs()}
    chosen = [pairs["car-bike"], pairs["paris-berlin"]]
    spec = StudySpec(layers=(0, 3), granularity="words")
    return run_study(tiny_en, chosen, spec, progress=False, out=lambda line: None), chosen


def test_pair_map_draws_each_cell_at_its_time_with_its_recovery(study):
    result, pairs = study
    pair = pairs[0]  # car-bike
    figure = result.plot_pair(pair)
    mel_ax, denoise_ax, noise_ax = figure.axes[:3]
    assert "'car' -> 'bike'" in mel_ax.get_title() and "logit diff 'car' - 'bike'" in (
        mel_ax.get_title()
    )
    rows = result.rows[result.rows["pair"] == pair.id]
    for ax, direction in ((denoise_ax, "denoise"), (noise_ax, "noise")):
        part = rows[rows["direction"] == direction]
        cells = part.drop_duplicates("cell").sort_values("cell")
        mesh = ax.collections[0]
        values = np.asarray(mesh.get_array())
        assert len(mesh.get_paths()) == len(values) >= len(part)
        for path, value in zip(mesh.get_paths(), values):
            (x0, y0), (x1, y1) = path.vertices.min(0), path.vertices.max(0)
            layer = (0, 3)[int(round((y0 + y1) / 2))]
            owner = cells[(cells["start_s"] <= x0 + 1e-9) & (cells["end_s"] >= x1 - 1e-9)]
            assert len(owner) >= 1, f"a piece at {x0:.2f}-{x1:.2f} s lies in no cell"
            expected = part[(part["layer"] == layer) & part["cell"].isin(owner["cell"])]
            assert np.isclose(expected["normalised"], value).any()
        labels = [t.get_text() for t in ax.child_axes[0].get_xticklabels()]
        assert labels == [w for w, _, _ in pair.meta["clean_words"]]
    assert mel_ax.get_xlim() == pytest.approx((0.0, len(pair.clean_audio) / 16000), abs=0.011)
    assert cut_off_text(figure) == []


def test_onset_curves_plot_the_means_over_pairs(study):
    result, _ = study
    figure = result.plot_onsets(bin_s=0.1)
    curves = result.onset_curves(bin_s=0.1)
    for ax, direction in zip(figure.axes, ("denoise", "noise")):
        assert direction in ax.get_title()
        for site in ("layer 0", "layer 3"):
            (line,) = [line for line in ax.get_lines() if line.get_gid() == site]
            expected = curves[(curves["direction"] == direction) & (curves["site"] == site)]
            expected = expected.sort_values("bin_s")
            np.testing.assert_allclose(line.get_xdata(), expected["bin_s"] + 0.05)
            np.testing.assert_allclose(line.get_ydata(), expected["mean"])
    assert "mean over 2 pair(s)" in figure._suptitle.get_text()
    assert cut_off_text(figure) == []
    # one direction: a panel narrower than the title, which wraps instead of being cut off
    denoising = StudyResult(result.rows[result.rows["direction"] == "denoise"], [], result.spec)
    assert cut_off_text(denoising.plot_onsets(bin_s=0.1)) == []


def test_corruption_bars_are_the_table(study):
    table = pd.DataFrame(
        {
            "corruption": ["minimal pair", "white noise", "minimal pair"],
            "layer": [0, 0, 3],
            "peak": [1.0, 0.5, 0.9],
            "sharpness": [0.95, 0.6, 0.8],
        }
    )
    figure = corruption_figure(table)
    peak_ax, sharp_ax = figure.axes
    widths = {
        patch.get_gid(): [] for patch in peak_ax.patches + sharp_ax.patches if patch.get_gid()
    }
    for patch in peak_ax.patches + sharp_ax.patches:
        widths[patch.get_gid()].append(patch.get_width())
    assert widths["peak layer 0"] == [1.0, 0.5]
    assert widths["sharpness layer 0"] == [0.95, 0.6]
    assert widths["peak layer 3"][0] == 0.9 and np.isnan(widths["peak layer 3"][1])
    assert [t.get_text() for t in peak_ax.get_yticklabels()] == ["minimal pair", "white noise"]
    assert cut_off_text(figure) == []
    # the names compare_corruptions gives (kind, SNR, scope) fit too
    long_names = table.replace({"white noise": "white noise 0 dB (clip, seed 0)"})
    assert cut_off_text(corruption_figure(long_names)) == []


def test_bad_requests_name_the_fix(study):
    result, pairs = study
    with pytest.raises(ValueError, match="no rows in this study"):
        result.plot_pair("football-tennis")
    with pytest.raises(ValueError, match="patched no 'mlp_out'"):
        result.plot_pair(pairs[0], act="mlp_out")
    with pytest.raises(ValueError, match="patched no 'attn_out'"):
        result.plot_onsets(act="attn_out")
    with pytest.raises(ValueError, match="Pass the MinimalPair itself"):
        result.plot_pair("car-bike")
