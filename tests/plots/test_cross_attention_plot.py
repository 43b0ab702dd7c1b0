"""The cross-attention plot shows what the pattern holds: each audio position over its true 20 ms,
query rows in order with their tokens, words at their times; and `cross_attention_map` reads
the same weights openai-whisper's own model computes (its cross-attention scores, softmaxed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from whisper.model import disable_sdpa  # noqa: E402

from hooked_audio.models.whisper.cross_attention_map import cross_attention_map  # noqa: E402
from hooked_audio.models.whisper.head_timing import timed_clips  # noqa: E402
from hooked_audio.pairs import bundled_pairs  # noqa: E402
from hooked_audio.plots.cross_attention import plot_cross_attention  # noqa: E402

WORDS = (("so", 0.10, 0.30), ("Americans", 0.30, 0.84))
LABELS = ["<|sot|>", " so", " Americans"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def one_hot_pattern() -> torch.Tensor:
    """Three queries over 50 positions (1 s), each all on one position: 5, 15, 42."""
    pattern = torch.zeros(3, 50)
    pattern[[0, 1, 2], [5, 15, 42]] = 1.0
    return pattern


def test_positions_at_their_times_rows_in_order_words_labelled():
    mel = torch.randn(80, 100)
    drawn = plot_cross_attention(one_hot_pattern(), LABELS, WORDS, 0.02, spectrogram=mel)
    left, right, bottom, top = drawn.image.get_extent()
    assert (left, right) == (0.0, pytest.approx(1.0))  # 50 positions of 20 ms
    assert (bottom, top) == (2.5, -0.5)  # query 0 at the top
    np.testing.assert_array_equal(drawn.image.get_array(), one_hot_pattern().numpy())
    # the brightest pixel of each row sits at the centre of its position's 20 ms
    fig = drawn.ax.figure
    fig.canvas.draw()
    for row, position in enumerate((5, 15, 42)):
        x = (position + 0.5) * 0.02
        pixel = drawn.ax.transData.transform((x, row))
        assert drawn.image.get_cursor_data(_event(pixel)) == 1.0
    assert [t.get_text() for t in drawn.ax.get_yticklabels()] == LABELS
    ticks = drawn.label_axis.get_xticks()
    np.testing.assert_allclose(ticks, [0.2, 0.57])
    assert [t.get_text() for t in drawn.label_axis.get_xticklabels()] == ["so", "Americans"]
    assert drawn.boundaries == [0.1, 0.3, 0.84]
    assert drawn.mel_ax.get_xlim() == pytest.approx((0.0, 1.0))


def _event(pixel):
    class Event:  # what AxesImage.get_cursor_data reads from a mouse event
        x, y = pixel
        xdata = ydata = None

    return Event()


def test_bad_input_is_refused_with_the_fix():
    pattern = one_hot_pattern()
    with pytest.raises(ValueError, match="one string per query row"):
        plot_cross_attention(pattern, LABELS[:2])
    with pytest.raises(ValueError, match="one head's"):
        plot_cross_attention(pattern[None], LABELS)
    with pytest.raises(ValueError, match="NaN"):
        plot_cross_attention(pattern.masked_fill(pattern == 1, float("nan")), LABELS)
    with pytest.raises(ValueError, match="outside the pattern's 0-1.00 s"):
        plot_cross_attention(pattern, LABELS, [("late", 0.9, 1.2)])
    with pytest.raises(ValueError, match="two axes"):
        plot_cross_attention(pattern, LABELS, spectrogram=torch.zeros(80, 100), ax=plt.gca())


def test_map_matches_openai_whisper_cross_attention(tiny_en, tiny_en_reference):
    clip = timed_clips(bundled_pairs())[0]
    found = cross_attention_map(tiny_en, clip, layer=2, head=4)
    tokens = tiny_en.to_tokens(" " + " ".join(word for word, _, _ in clip.words))
    assert found.query_tokens == tiny_en.to_str_tokens(tokens)
    scores = {}
    block = tiny_en_reference.decoder.blocks[2].cross_attn
    handle = block.register_forward_hook(lambda module, args, out: scores.update(qk=out[1]))
    with torch.no_grad(), disable_sdpa():
        tiny_en_reference(tiny_en.to_mel(clip.audio), tokens)
    handle.remove()
    expected = scores["qk"][0, 4].softmax(-1)[:, : found.pattern.shape[1]]
    torch.testing.assert_close(found.pattern, expected, atol=1e-5, rtol=1e-4)
    n_positions = found.pattern.shape[1]
    assert n_positions == int(np.ceil(len(clip.audio) / 16000 / 0.02))
    assert found.mel.shape[-1] == 2 * n_positions
    # the best timing head of docs/cli.md: a word's predicting query looks near its start
    for (word, start, _), query in zip(clip.words[1:], found.first_token[1:]):
        looked = found.pattern[query - 1].argmax().item() * 0.02
        assert abs(looked - start) <= 0.1, f"{word!r}: looked at {looked:.2f} s, starts {start}"
    drawn = found.plot()
    assert [t.get_text() for t in drawn.label_axis.get_xticklabels()] == [
        word for word, _, _ in clip.words
    ]
    with pytest.raises(ValueError, match="decoder layer, 0 to 3"):
        cross_attention_map(tiny_en, clip, layer=4, head=0)
    with pytest.raises(ValueError, match="head must be 0 to 5"):
        cross_attention_map(tiny_en, clip, layer=0, head=6)
