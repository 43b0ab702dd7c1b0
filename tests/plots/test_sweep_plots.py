"""`SweepResult.plot` shows what the result holds: cells at their true seconds, gaps blank,
overlaps visible, colours that map the values, labels at the cells, tokens in order, and the
log-mel on the same time axis. Read back from the drawn artists and the rendered pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.colors import Normalize, to_rgba  # noqa: E402

from hooked_audio.audio import mel_to_frames  # noqa: E402
from hooked_audio.patching import time_cells  # noqa: E402
from hooked_audio.patching.sweep_result import SweepResult  # noqa: E402
from hooked_audio.plots import as_log_mel, draw_sweep_heatmap, plot_log_mel  # noqa: E402
from hooked_audio.plots.sweep_heatmap import GAP_COLOUR, RECOVERY_LABEL  # noqa: E402

SECONDS = [(0.40, 0.62), (1.76, 2.26), (2.30, 2.42)]
WORDS = ["so", "Americans", "ask"]
# clean 2, corrupt 0: normalised recovery = value / 2
VALUES = torch.tensor([[0.2, 1.8, -0.6], [0.0, 1.2, 0.4]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def word_result() -> SweepResult:
    return SweepResult(
        values=VALUES.clone(),
        layers=[0, 3],
        cells=[list(range(20, 31)), list(range(88, 113)), list(range(115, 121))],
        cell_labels=list(WORDS),
        act="resid_pre",
        direction="denoise",
        clean_value=2.0,
        corrupt_value=0.0,
        cell_seconds=list(SECONDS),
    )


def token_result() -> SweepResult:
    return SweepResult(
        values=torch.tensor([[0.5, 1.0, 0.25]]),
        layers=[1],
        cells=[[0], [1], [2, 3]],
        cell_labels=["0", "1", "2,3"],
        act="resid_pre",
        direction="denoise",
        clean_value=1.0,
        corrupt_value=0.0,
    )


def rectangles(ax):
    """`(x0, x1, y0, y1, rgba)` of every drawn cell polygon."""
    ax.figure.canvas.draw()
    mesh = ax.collections[0]
    colours = mesh.get_facecolors()
    out = []
    for path, rgba in zip(mesh.get_paths(), colours):
        xs, ys = path.vertices[:, 0], path.vertices[:, 1]
        out.append((xs.min(), xs.max(), ys.min(), ys.max(), tuple(rgba)))
    return out


def boundaries(ax) -> list[float]:
    return sorted(
        line.get_xdata()[0] for line in ax.get_lines() if line.get_gid() == "cell boundary"
    )


def pixel(ax, x: float, y: float) -> np.ndarray:
    """RGBA (0..1) of the rendered figure at data point `(x, y)` of `ax`."""
    fig = ax.figure
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    return image[int(image.shape[0] - py), int(px)] / 255.0


def test_word_cells_sit_at_their_seconds():
    ax = word_result().plot()
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_xlim() == pytest.approx((0.40, 2.42))
    drawn = rectangles(ax)
    assert len(drawn) == 2 * 3
    for li in range(2):
        row = sorted((x0, x1) for x0, x1, y0, y1, _ in drawn if (y0, y1) == (li - 0.5, li + 0.5))
        assert row == SECONDS
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "3"]
    assert ax.get_ylabel() == "layer"


def test_gaps_are_not_coloured():
    ax = word_result().plot()
    for x0, x1, *_ in rectangles(ax):
        for gap in ((0.62, 1.76), (2.26, 2.30)):
            assert x1 <= gap[0] + 1e-12 or x0 >= gap[1] - 1e-12
    for x in (1.2, 2.28):
        for y in (0.0, 1.0):
            assert pixel(ax, x, y) == pytest.approx(np.array(to_rgba(GAP_COLOUR)), abs=0.01)


def test_cell_colour_is_its_value():
    result = word_result()
    ax = result.plot()
    expected = colormaps["RdBu_r"](Normalize(-1.0, 1.0)(result.normalised().numpy()))
    for x0, x1, y0, _, rgba in rectangles(ax):
        li, ci = round(y0 + 0.5), SECONDS.index((x0, x1))
        assert rgba == pytest.approx(tuple(expected[li, ci]))
        centre = pixel(ax, (x0 + x1) / 2, li)
        assert centre == pytest.approx(expected[li, ci], abs=0.01)
    assert ax.figure.axes[-1].get_ylabel() == RECOVERY_LABEL


def test_raw_values_use_their_own_range_and_the_metric_name():
    ax = word_result().plot(normalised=False, metric_name="logit diff")
    norm = Normalize(float(VALUES.min()), float(VALUES.max()))
    expected = colormaps["viridis"](norm(VALUES.numpy()))
    for x0, x1, y0, _, rgba in rectangles(ax):
        assert rgba == pytest.approx(tuple(expected[round(y0 + 0.5), SECONDS.index((x0, x1))]))
    assert ax.figure.axes[-1].get_ylabel() == "logit diff"
    assert "logit diff" in ax.get_title()


def test_word_labels_sit_at_the_cells_centres_with_boundaries():
    ax = word_result().plot(metric_name="logit diff ' Americans' - ' citizens'")
    ax.figure.canvas.draw()
    (row,) = ax.child_axes
    assert list(row.get_xticks()) == pytest.approx([(a + b) / 2 for a, b in SECONDS])
    assert [t.get_text() for t in row.get_xticklabels()] == WORDS
    lines = boundaries(ax)
    assert lines == pytest.approx(sorted(t for span in SECONDS for t in span))
    assert ax.get_title() == "denoise resid_pre: logit diff ' Americans' - ' citizens' (recovery)"


def test_time_span_labels_are_not_repeated_above():
    cells = time_cells.windows(1500, window_s=0.2, end_s=0.6)
    result = SweepResult(
        torch.zeros(1, 3),
        [0],
        cells.cells,
        cells.labels,
        "resid_pre",
        "noise",
        1.0,
        0.0,
        cells.seconds,
    )
    ax = result.plot()
    assert ax.child_axes == [] and boundaries(ax) == []


def test_overlapping_windows_share_the_overlap_without_hiding():
    cells = time_cells.windows(1500, window_s=0.2, stride_s=0.1, end_s=1.0)
    n = len(cells.cells)
    _, ax = plt.subplots()
    drawn = draw_sweep_heatmap(ax, torch.linspace(0, 1, n)[None], [0], cells.labels, cells.seconds)
    assert len(drawn.cells.get_paths()) == len(drawn.pieces)
    for ci, (start, end) in enumerate(cells.seconds):
        mine = sorted((p.start, p.end) for _, p in drawn.pieces if p.cell == ci)
        assert mine[0][0] == start and mine[-1][1] == end
        assert all(a[1] == pytest.approx(b[0]) for a, b in zip(mine, mine[1:]))
    boxes = [(p.start, p.end, p.top, p.bottom) for _, p in drawn.pieces]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            x_overlap = min(a[1], b[1]) - max(a[0], b[0])
            y_overlap = min(a[3], b[3]) - max(a[2], b[2])
            assert x_overlap <= 1e-9 or y_overlap <= 1e-9
    shared = [p for _, p in drawn.pieces if p.start < 0.15 < p.end]
    assert sorted((p.cell, p.top, p.bottom) for p in shared) == [(0, 0.0, 0.5), (1, 0.5, 1.0)]


def test_words_sharing_a_frame_stay_full_height_elsewhere():
    _, ax = plt.subplots()
    spans = [(0.78, 0.94), (0.92, 1.32)]
    drawn = draw_sweep_heatmap(ax, torch.zeros(1, 2), [0], ["in", "Paris"], spans)
    pieces = sorted(((p.cell, p.start, p.end, p.top, p.bottom) for _, p in drawn.pieces))
    assert pieces == [
        (0, 0.78, 0.92, 0.0, 1.0),
        (0, 0.92, 0.94, 0.0, 0.5),
        (1, 0.92, 0.94, 0.5, 1.0),
        (1, 0.94, 1.32, 0.0, 1.0),
    ]


def test_token_cells_are_ticked_with_their_token_strings():
    tokens = ["<|startoftranscript|>", " And", " so", " my"]
    ax = token_result().plot(tokens=tokens)
    ax.figure.canvas.draw()
    assert list(ax.get_xticks()) == [0, 1, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "<|startoftranscript|>",
        " And",
        " so my",
    ]
    assert ax.get_xlabel() == "token"
    assert sorted((x0, x1) for x0, x1, *_ in rectangles(ax)) == [
        (-0.5, 0.5),
        (0.5, 1.5),
        (1.5, 2.5),
    ]


def test_token_cells_without_tokens_keep_their_position_labels():
    ax = token_result().plot(True, None, "positions")
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2,3"]
    assert ax.get_xlabel() == "token position" and ax.get_title() == "positions"


def test_bad_tokens_are_refused():
    with pytest.raises(ValueError, match="beyond the 3 tokens"):
        token_result().plot(tokens=["a", "b", "c"])
    with pytest.raises(TypeError, match="to_str_tokens"):
        token_result().plot(tokens="abcd")
    with pytest.raises(ValueError, match="in seconds"):
        word_result().plot(tokens=["a"] * 200)
    with pytest.raises(ValueError, match="spectrogram= needs cells in seconds"):
        token_result().plot(spectrogram=torch.zeros(80, 100))


def test_spectrogram_shares_the_time_axis():
    mel = torch.randn(80, 300)  # 3 s
    mel_ax, heat_ax = word_result().plot(spectrogram=mel)
    assert mel_ax.get_shared_x_axes().joined(mel_ax, heat_ax)
    assert mel_ax.get_xlim() == heat_ax.get_xlim() == pytest.approx((0.40, 2.42))
    (image,) = mel_ax.get_images()
    assert image.get_extent() == pytest.approx((0.0, 3.0, -0.5, 79.5))
    assert np.array_equal(image.get_array(), mel.numpy())
    assert (
        boundaries(mel_ax)
        == boundaries(heat_ax)
        == pytest.approx(sorted(t for span in SECONDS for t in span))
    )
    assert heat_ax.get_xlabel() == "time (s)"
    mel_ax.set_xlim(1.0, 2.0)
    assert heat_ax.get_xlim() == (1.0, 2.0)


def test_spectrogram_layouts_and_errors():
    mel = torch.randn(1, 80, 300)
    assert torch.equal(as_log_mel(mel_to_frames(mel)), mel[0])
    assert torch.equal(as_log_mel(mel_to_frames(mel)[0]), mel[0])
    assert torch.equal(as_log_mel(mel), mel[0])
    with pytest.raises(ValueError, match="pick one clip"):
        as_log_mel(torch.zeros(3, 80, 300))
    with pytest.raises(ValueError, match="spectrogram covers 0.00-1.00 s"):
        word_result().plot(spectrogram=torch.zeros(80, 100))
    with pytest.raises(ValueError, match="covers 30.00-33.00 s.*spectrogram_start_s"):
        word_result().plot(spectrogram=mel, spectrogram_start_s=30.0)  # cells before its start
    shifted = word_result()
    shifted.cell_seconds = [(a + 30.0, b + 30.0) for a, b in shifted.cell_seconds]
    mel_ax, _ = shifted.plot(spectrogram=mel, spectrogram_start_s=30.0)
    assert mel_ax.images[0].get_extent()[:2] == pytest.approx([30.0, 33.0])
    with pytest.raises(ValueError, match="two axes"):
        word_result().plot(spectrogram=mel, ax=plt.subplots()[1:])
    _, ax = plt.subplots()
    image = plot_log_mel(ax, mel_to_frames(mel), seconds_per_mel_frame=0.02)
    assert image.get_extent()[1] == pytest.approx(6.0)
    assert ax.get_xlabel() == "time (s)"


def test_time_span_limits_the_axis_and_bad_spans_are_refused():
    ax = word_result().plot(time_span=(0.0, 3.0))
    assert ax.get_xlim() == (0.0, 3.0)
    with pytest.raises(ValueError, match="end > start"):
        word_result().plot(time_span=(2.0, 1.0))
    result = word_result()
    result.cell_seconds = [(0.4, 0.4), *SECONDS[1:]]
    with pytest.raises(ValueError, match="a finite start before its end"):
        result.plot()


def test_words_a_frame_apart_get_one_boundary_between_them():
    """Two lines around a one-frame sliver between words read as a doubled edge: the edges are
    drawn once, at the sliver's middle; edges further apart stay where they are."""
    from hooked_audio.plots.sweep_heatmap import merged_edges

    assert merged_edges([0.2, 0.34, 0.36, 0.66, 0.9]) == pytest.approx([0.2, 0.35, 0.66, 0.9])
    assert merged_edges([0.1, 0.14, 0.18]) == [0.1, 0.14, 0.18]
    fig, ax = plt.subplots()
    spans = [(0.20, 0.34), (0.36, 0.66), (0.70, 0.90)]
    draw_sweep_heatmap(ax, torch.zeros(1, 3), [0], ["He", "drove", "his"], spans)
    assert boundaries(ax) == pytest.approx([0.20, 0.35, 0.66, 0.70, 0.90])
