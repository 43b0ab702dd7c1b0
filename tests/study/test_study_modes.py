"""Study modes: attribution rows are marked estimated, verified rows carry the exact values of
an exact study on their cells (whole-layer and head acts), and the report hatches
estimates."""

from __future__ import annotations

import pytest

from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study import report_figures as figures


@pytest.fixture(scope="module")
def pair():
    return next(p for p in bundled_pairs() if p.id == "paris-berlin")


def study(tiny_en, pair, **spec):
    spec = StudySpec(layers=(2, 3), directions=("denoise",), **spec)
    return run_study(tiny_en, [pair], spec, progress=False, out=lambda line: None).rows


def test_verified_cells_are_the_exact_studys_and_the_rest_are_marked(tiny_en, pair):
    exact = study(tiny_en, pair)
    estimated = study(tiny_en, pair, mode="attribution", steps=4)
    verified = study(tiny_en, pair, mode="verified", steps=4, verify_top_k=3)
    assert exact["exact"].all() and not estimated["exact"].any()
    assert verified["exact"].sum() == 3
    keys = ["layer", "cell"]
    exact_values = exact.set_index(keys)["value"]
    checked = verified[verified["exact"]].set_index(keys)["value"]
    assert checked.to_numpy() == pytest.approx(exact_values.loc[checked.index].to_numpy(), abs=1e-4)
    rest = verified[~verified["exact"]].set_index(keys)["value"]
    assert rest.to_numpy() == pytest.approx(
        estimated.set_index(keys)["value"].loc[rest.index].to_numpy(), abs=1e-5
    )
    # the changed word's cell leads the estimate at the last layer, so it is verified
    word = verified[(verified["layer"] == 3) & (verified["label"] == "Paris")]
    assert word["exact"].item() and word["normalised"].item() > 0.8
    rows = verified.assign(site="layer " + verified["layer"].astype(str))
    bars = figures._cell_bars(rows, "resid_pre|denoise")
    shapes = list(bars.marker.pattern.shape)
    assert shapes == ["" if flag else "/" for flag in rows["exact"]]
    assert "estimate (integrated gradients)" in list(bars.customdata[:, 5])


def test_modes_are_checked():
    with pytest.raises(ValueError, match="mode must be one of"):
        StudySpec(mode="fast")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        StudySpec(mode="attribution", steps=0)


def test_verified_head_cells_are_the_exact_studys(tiny_en, pair):
    """Cross-attention heads (decoder layer 3) in mode verified: the verified (head, cell)s
    carry the exact study's values, the rest the estimate's."""
    heads = dict(acts=("cross_heads",), granularity="windows:0.5")
    spec = dict(layers=(3,), directions=("denoise",), **heads)
    run = lambda **mode: (
        run_study(  # noqa: E731
            tiny_en, [pair], StudySpec(**spec, **mode), progress=False, out=lambda line: None
        ).rows
    )
    exact, verified = run(), run(mode="verified", steps=4, verify_top_k=4)
    assert exact["exact"].all() and verified["exact"].sum() == 4
    keys = ["head", "cell"]
    checked = verified[verified["exact"]].set_index(keys)["value"]
    exact_values = exact.set_index(keys)["value"].loc[checked.index]
    assert checked.to_numpy() == pytest.approx(exact_values.to_numpy(), abs=1e-4)
    assert verified["value"].notna().all() and len(verified) == len(exact)
