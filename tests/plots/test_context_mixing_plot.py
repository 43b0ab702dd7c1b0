"""The context-mixing figure shows what the map holds: each (query, key) frame over its true
20 ms on both time axes, query time downwards, frames not computed left grey, the words at their
true times on both axes, the log-mel along both time axes over the same span."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from hooked_audio import HookedWhisper, mel_to_frames  # noqa: E402
from hooked_audio.analysis import value_zeroing  # noqa: E402
from hooked_audio.plots.context_mixing import plot_context_mixing  # noqa: E402
from tests.helpers.figure_text import cut_off_text  # noqa: E402
from tests.helpers.whisper_models import random_dims, random_reference  # noqa: E402

WORDS = [("so", 0.04, 0.10), ("far", 0.10, 0.18)]
HOT_KEY = [7, 3, 0, 9, 1, 4, 4, 8, 2, 5]  # row q's weight is all on key HOT_KEY[q]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def one_hot_scores() -> torch.Tensor:
    scores = torch.zeros(10, 10)
    scores[range(10), HOT_KEY] = 1.0
    return scores


def value_at(drawn, key_s: float, query_s: float):
    """The value the image shows at data point (key_s, query_s), as a mouse-over reads it."""

    class Event:
        x, y = drawn.ax.transData.transform((key_s, query_s))
        xdata = ydata = None

    return drawn.image.get_cursor_data(Event())


def test_frames_at_their_times_words_on_both_axes_and_the_log_mel_alongside():
    mel = torch.randn(80, 30)  # 0.30 s of log-mel; the map covers the first 0.20 s
    drawn = plot_context_mixing(one_hot_scores(), range(10), range(10), 0.02, WORDS, mel)
    assert drawn.image.get_extent() == pytest.approx([0.0, 0.2, 0.2, 0.0])  # query 0 on top
    drawn.ax.figure.canvas.draw()
    for query, key in enumerate(HOT_KEY):
        centre = ((key + 0.5) * 0.02, (query + 0.5) * 0.02)
        assert value_at(drawn, *centre) == 1.0
        neighbour = ((key + 0.5) * 0.02, (query + 0.5) * 0.02 + (0.02 if query < 9 else -0.02))
        assert value_at(drawn, *neighbour) == (
            1.0 if HOT_KEY[query + (1 if query < 9 else -1)] == key else 0.0
        )
    np.testing.assert_allclose(drawn.key_words.get_xticks(), [0.07, 0.14])
    np.testing.assert_allclose(drawn.query_words.get_yticks(), [0.07, 0.14])
    assert [t.get_text() for t in drawn.key_words.get_xticklabels()] == ["so", "far"]
    assert [t.get_text() for t in drawn.query_words.get_yticklabels()] == ["so", "far"]
    assert drawn.key_edges == pytest.approx([0.04, 0.10, 0.18])
    assert drawn.query_edges == pytest.approx([0.04, 0.10, 0.18])
    assert drawn.key_mel_ax.get_xlim() == pytest.approx((0.0, 0.2))
    assert drawn.query_mel_ax.get_ylim() == pytest.approx((0.2, 0.0))
    assert cut_off_text(drawn.ax.figure) == []


def test_frames_not_computed_stay_grey_and_words_outside_the_span_are_left_out():
    scores = torch.tensor([[0.25, 0.75], [0.6, 0.4]])
    drawn = plot_context_mixing(scores, [2, 5], [4, 6], 0.02, WORDS)
    grid = drawn.image.get_array()
    assert grid.shape == (4, 3)  # queries 2..5, keys 4..6
    assert grid.mask.tolist() == [
        [False, True, False],
        [True, True, True],
        [True, True, True],
        [False, True, False],
    ]
    assert grid[0, 2] == 0.75 and grid[3, 0] == pytest.approx(0.6)
    # keys span 0.08-0.14 s: "so" (0.04-0.10) is cut to 0.08-0.10, "far" to 0.10-0.14
    np.testing.assert_allclose(drawn.key_words.get_xticks(), [0.09, 0.12])
    assert drawn.key_mel_ax is None and drawn.query_mel_ax is None
    assert cut_off_text(drawn.ax.figure) == []


def test_the_result_of_value_zeroing_plots_its_words_over_its_frames():
    dims = random_dims(n_audio_ctx=12, n_audio_layer=2)
    model = HookedWhisper.from_openai_state_dict(dims, random_reference(dims, seed=5).state_dict())
    frames = mel_to_frames(torch.randn(1, 80, 24, generator=torch.Generator().manual_seed(3)))
    view = model.encoder_stream(torch.tensor([[50257, 50362, 11]]))
    found = value_zeroing(view, frames, 1, frames=range(2, 11), words=WORDS, progress=False)
    drawn = found.plot()
    np.testing.assert_allclose(drawn.image.get_array(), found.scores.numpy())
    assert drawn.image.get_extent() == pytest.approx([0.04, 0.22, 0.22, 0.04])
    assert [t.get_text() for t in drawn.key_words.get_xticklabels()] == ["so", "far"]
    np.testing.assert_allclose(drawn.query_words.get_yticks(), [0.07, 0.14])
    assert drawn.key_mel_ax is not None  # the framed log-mel input


def test_bad_input_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"expected one row per query frame .*\(10, 9\)"):
        plot_context_mixing(one_hot_scores(), range(10), range(9), 0.02)
    with pytest.raises(ValueError, match="spectrogram covers 0-0.10 s"):
        plot_context_mixing(one_hot_scores(), range(10), range(10), 0.02, (), torch.zeros(80, 10))
