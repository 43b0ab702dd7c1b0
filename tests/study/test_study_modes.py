"""Study modes: attribution rows are marked estimated, verified rows carry the exact values of
an exact study on their cells (whole-layer and head acts), and the report hatches
estimates."""

from __future__ import annotations

import pytest
import torch

from hooked_audio.pairs import bundled_pairs
from hooked_audio.plots.time_cells_plotly import time_cell_bars
from hooked_audio.study import StudyResult, StudySpec, run_study


@pytest.fixture(scope="module")
def pair():
    return next(p for p in bundled_pairs() if p.id == "paris-berlin")


def study(tiny_en, pair, **spec):
    spec = StudySpec(layers=(2, 3), directions=("denoise",), **spec)
    return run_study(tiny_en, [pair], spec, progress=False, out=lambda line: None).rows


def test_verified_cells_are_the_exact_studys_and_the_rest_are_marked_slow(tiny_en, pair):
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
    bars = time_cell_bars(rows, "resid_pre|denoise")
    shapes = list(bars.marker.pattern.shape)
    assert shapes == ["" if flag else "/" for flag in rows["exact"]]
    assert "estimate (integrated gradients)" in list(bars.customdata[:, 5])


def test_modes_are_checked():
    with pytest.raises(ValueError, match="mode must be one of"):
        StudySpec(mode="fast")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        StudySpec(mode="attribution", steps=0)


def test_verified_head_cells_are_the_exact_studys_slow(tiny_en, pair):
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


def test_adaptive_study_rows_are_exact_windows_that_partition_the_cells_slow(tiny_en, pair):
    """Mode adaptive: every row is an exact patch; a layer's rows partition the pair's cells;
    single cells equal the exact study's; the changed word is refined to single cells; the
    figure draws a window across its cells and the report names it."""
    grain = dict(granularity="windows:0.1")
    exact = study(tiny_en, pair, **grain)
    adaptive = study(tiny_en, pair, mode="adaptive", adaptive_window=4, **grain)
    n_cells = exact["cell"].max() + 1
    assert adaptive["exact"].all() and len(adaptive) < len(exact)
    for _, layer in adaptive.groupby("layer"):
        covered = sorted(
            c for first, n in zip(layer["cell"], layer["n_cells"]) for c in range(first, first + n)
        )
        assert covered == list(range(n_cells))
    single = adaptive[adaptive["n_cells"] == 1].set_index(["layer", "cell"])["value"]
    reference = exact.set_index(["layer", "cell"])["value"].loc[single.index]
    assert single.to_numpy() == pytest.approx(reference.to_numpy(), abs=1e-4)
    start, end = pair.spans_s[0]
    in_word = adaptive[(adaptive["start_s"] + adaptive["end_s"]) / 2 > start]
    in_word = in_word[(in_word["start_s"] + in_word["end_s"]) / 2 < end]
    assert (in_word["n_cells"] == 1).all() and len(in_word)
    windows = adaptive[adaptive["n_cells"] > 1]
    assert len(windows) and windows["label"].str.contains("…").all()

    from hooked_audio.study.figures import _time_columns

    cells, columns_of = _time_columns(adaptive.assign(site="x"))
    for _, row in windows.iterrows():
        spans = cells.iloc[columns_of(row)]
        assert spans["start_s"].min() == pytest.approx(row["start_s"])
        assert spans["end_s"].max() == pytest.approx(row["end_s"])
    bars = time_cell_bars(windows.assign(site="layer 3"), "resid_pre|denoise")
    assert all("cells together" in kind for kind in bars.customdata[:, 5])
    spec = StudySpec(layers=(2, 3), directions=("denoise",), mode="adaptive", **grain)
    fig = StudyResult.from_rows(adaptive.to_dict("records"), [], spec).plot_pair(pair)
    heatmap = fig.axes[-1] if len(fig.axes) == 2 else fig.axes[2]
    assert heatmap.collections  # the map is drawn (cells as polygons at their times)


def test_adaptive_mode_is_for_whole_layers():
    with pytest.raises(ValueError, match="mode 'adaptive' refines whole-layer acts only"):
        StudySpec(mode="adaptive", acts=("resid_pre", "cross_heads"))
    with pytest.raises(ValueError, match="adaptive_threshold must be >= 0"):
        StudySpec(mode="adaptive", adaptive_threshold=-1.0)
    with pytest.raises(ValueError, match="adaptive_top_k must be an integer >= 1"):
        StudySpec(mode="adaptive", adaptive_top_k=0)
    with pytest.raises(ValueError, match="it needs mode 'adaptive', not 'exact'"):
        StudySpec(adaptive_top_k=3)
    with pytest.raises(ValueError, match="leave layer_chunk=None with it"):
        StudySpec(mode="adaptive", adaptive_top_k=3, layer_chunk=1)


def test_an_adaptive_top_k_study_is_the_engines_top_k_search_slow(tiny_en, pair):
    """Mode adaptive with adaptive_top_k: the study's rows are adaptive_map's top-k search on
    the same cells (values and windows), in fewer rows than without it."""
    from hooked_audio.models.whisper.word_contrast import word_contrast
    from hooked_audio.patching import adaptive_resid_pre_map
    from hooked_audio.study.pair_cells import pair_cells

    grain = dict(granularity="windows:0.1")
    options = dict(mode="adaptive", adaptive_window=4, adaptive_threshold=0.0)
    searched = study(tiny_en, pair, adaptive_top_k=3, **options, **grain)
    plain = study(tiny_en, pair, **options, **grain)
    assert len(searched) < len(plain)
    contrast = word_contrast(tiny_en, pair)
    step = tiny_en.window_seconds / tiny_en.dims.n_audio_ctx
    cells = pair_cells(pair, "windows:0.1", tiny_en.dims.n_audio_ctx, step).cells
    maps = adaptive_resid_pre_map(
        tiny_en.encoder_stream(contrast.tokens),
        tiny_en.to_frames(pair.clean_audio),
        tiny_en.to_frames(pair.corrupt_audio),
        contrast.metric(),
        layers=[2, 3],
        cells=cells,
        window=4,
        threshold=0.0,
        top_k=3,
        progress=False,
    )
    for result in maps:
        rows = searched[searched["layer"] == result.layers[0]].sort_values("cell")
        assert rows["cell"].tolist() == [members[0] for members in result.metadata["members"]]
        assert rows["n_cells"].tolist() == [len(m) for m in result.metadata["members"]]
        assert rows["value"].to_numpy() == pytest.approx(result.values[0].numpy(), abs=1e-4)


def test_a_worker_runs_its_own_copy_in_the_studys_precision(tiny_en):
    from hooked_audio.study.units import StudyWorker

    worker = StudyWorker(tiny_en, StudySpec(dtype="bfloat16"))
    assert worker.family.model.W_E.dtype == torch.bfloat16 and tiny_en.W_E.dtype == torch.float32
    assert StudyWorker(tiny_en, StudySpec()).family.model is tiny_en  # nothing to convert: no copy
    with pytest.raises(ValueError, match="dtype must be one of"):
        StudySpec(dtype="float64")
    with pytest.raises(ValueError, match="not a torch device"):
        StudyWorker(tiny_en, StudySpec(), device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            StudyWorker(tiny_en, StudySpec(), device="cuda")
