"""The one plotly map of cells at their true times (report and page): every bar spans its
cell's own seconds on its layer's row, is coloured by the cell's recovery and carries its span
for a click; a sweep over token positions (no times) is refused."""

from __future__ import annotations

import pytest

from hooked_audio.plots.time_cells_plotly import sweep_cells
from hooked_audio.serve.figures import sweep_figure
from tests.plots.test_sweep_plots import SECONDS, VALUES, WORDS, token_result, word_result


def test_the_page_map_draws_each_cell_over_its_own_seconds():
    (bar,) = sweep_figure(word_result(), seconds=2.5).data
    assert bar.type == "bar" and bar.orientation == "h"
    expected = [
        (f"layer {layer}", word, start, end, float(VALUES[i, j]) / 2)  # recovery = value / 2
        for i, layer in enumerate([0, 3])
        for j, (word, (start, end)) in enumerate(zip(WORDS, SECONDS))
    ]
    for k, (site, word, start, end, recovery) in enumerate(expected):
        assert bar.y[k] == site and bar.text[k] == word
        assert bar.base[k] == pytest.approx(start) and bar.x[k] == pytest.approx(end - start)
        assert bar.marker.color[k] == pytest.approx(recovery)
        label, span_start, span_end, value, normalised, kind = bar.customdata[k]
        assert (label, span_start, span_end) == (word, start, end)  # what a click plays
        assert normalised == pytest.approx(recovery) and kind == "exact patch"
    # cells of unequal length keep their extents: the longest word is drawn longest
    assert max(range(3), key=lambda j: bar.x[j]) == 1


def test_a_sweep_without_times_is_refused():
    with pytest.raises(ValueError, match="token positions"):
        sweep_cells(token_result())
