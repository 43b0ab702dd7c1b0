"""Adaptive exact maps: every reported cell's value is the exact patch of that cell, the cells
partition the positions, refinement goes down to single frames only where the effect is, and
threshold 0 gives the full map."""

from __future__ import annotations

import pytest
import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.models.whisper.word_contrast import word_contrast
from hooked_audio.pairs import bundled_pairs
from hooked_audio.patching import head_sweep, layer_sweep, resid_pre_sweep, time_cells
from hooked_audio.patching.adaptive import adaptive_map, adaptive_resid_pre_map
from tests.helpers.type_checks import unchecked_types
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)


def random_setup():
    """A random tiny Whisper's encoder view and a large corruption of a random clip."""
    model = HookedWhisper.from_openai_state_dict(
        DIMS, random_reference(DIMS, seed=8, std=0.3).state_dict()
    )
    gen = torch.Generator().manual_seed(9)
    clean_mel = torch.randn(1, 80, 12, generator=gen)
    clean = mel_to_frames(clean_mel)
    corrupt = mel_to_frames(clean_mel + 2.0 * torch.randn(1, 80, 12, generator=gen))
    return model.encoder_stream(torch.tensor([[50257, 50362, 11, 12, 13]])), clean, corrupt


def diff(logits):
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


def test_on_a_real_pair_the_cells_are_exact_and_refined_on_the_word(tiny_en):
    pair = next(p for p in bundled_pairs() if p.id == "paris-berlin")
    contrast = word_contrast(tiny_en, pair)
    view = tiny_en.encoder_stream(contrast.tokens)
    clean, corrupt = tiny_en.to_frames(pair.clean_audio), tiny_en.to_frames(pair.corrupt_audio)
    speech = list(range(round(len(pair.clean_audio) / 16000 / 0.02)))  # not the padding
    (found,) = adaptive_resid_pre_map(
        view,
        clean,
        corrupt,
        contrast.metric(),
        layers=[3],
        cells=speech,
        window=16,
        threshold=0.05,
        progress=False,
    )
    assert sorted(p for cell in found.cells for p in cell) == speech  # a partition
    exact = resid_pre_sweep(
        view, clean, corrupt, contrast.metric(), layers=[3], cells=found.cells, progress=False
    )
    torch.testing.assert_close(found.values, exact.values, atol=1e-5, rtol=1e-5)
    assert found.clean_value == pytest.approx(exact.clean_value)
    start, end = pair.spans_s[0]
    single = [cell[0] for cell in found.cells if len(cell) == 1]
    assert single and all(start - 0.1 <= p * 0.02 <= end + 0.1 for p in single)
    assert found.metadata["full_runs"] == len(speech)
    assert found.metadata["exact_runs"] < len(speech) / 2
    assert [[speech[m] for m in members] for members in found.metadata["members"]] == found.cells


def test_groups_of_positions_and_other_acts(tiny_en):
    """Cells that are words (groups of frames) and `mlp_out`: every reported window is exact
    (equal to layer_sweep patching the same positions) and the words it reports alone are
    single members."""
    pair = next(p for p in bundled_pairs() if p.id == "car-bike")
    contrast = word_contrast(tiny_en, pair)
    view = tiny_en.encoder_stream(contrast.tokens)
    clean, corrupt = tiny_en.to_frames(pair.clean_audio), tiny_en.to_frames(pair.corrupt_audio)
    words = time_cells.spans(
        1500, [(start, end) for _, start, end in pair.meta["clean_words"]], seconds_per_frame=0.02
    ).cells
    (found,) = adaptive_map(
        view,
        clean,
        corrupt,
        contrast.metric(),
        "mlp_out",
        layers=[1],
        cells=words,
        window=4,
        progress=False,
    )
    members = found.metadata["members"]
    assert sorted(m for group in members for m in group) == list(range(len(words)))
    assert found.cells == [[p for m in group for p in words[m]] for group in members]
    exact = layer_sweep(
        view,
        clean,
        corrupt,
        contrast.metric(),
        "mlp_out",
        layers=[1],
        cells=found.cells,
        progress=False,
    )
    torch.testing.assert_close(found.values, exact.values, atol=1e-5, rtol=1e-5)
    car = [i for i, (word, _, _) in enumerate(pair.meta["clean_words"]) if word == "car"]
    assert car in members  # the changed word is refined down to itself


def test_threshold_zero_is_the_full_map_and_bad_arguments_are_refused():
    view, clean, corrupt = random_setup()

    for direction in ("denoise", "noise"):
        full = resid_pre_sweep(view, clean, corrupt, diff, direction=direction, progress=False)
        maps = adaptive_resid_pre_map(
            view, clean, corrupt, diff, direction, window=4, threshold=0.0, progress=False
        )
        for li, found in enumerate(maps):
            assert found.cells == [[p] for p in range(6)]
            torch.testing.assert_close(found.values[0], full.values[li], atol=1e-5, rtol=1e-5)
    for bad, message in (
        (dict(window=0), "window must be an integer >= 1"),
        (dict(min_size=1.5), "min_size must be an integer >= 1"),
        (dict(threshold=-0.1), "threshold must be >= 0"),
        (dict(cells=[7]), r"outside the 6 positions"),
        (dict(cells=[]), "`cells` is empty"),
    ):
        with unchecked_types(), pytest.raises(ValueError, match=message):
            adaptive_resid_pre_map(view, clean, corrupt, diff, progress=False, **bad)
    with pytest.raises(ValueError, match="no effect to refine by"):
        adaptive_resid_pre_map(view, clean, clean, diff, progress=False)


def test_down_to_heads_equals_head_sweep_on_the_windows_that_matter():
    view, clean, corrupt = random_setup()

    maps = adaptive_map(
        view,
        clean,
        corrupt,
        diff,
        "attn_out",
        window=2,
        threshold=0.05,
        heads=True,
        progress=False,
    )
    _, source_cache = view.run_with_cache(clean)
    total = abs(maps[0].clean_value - maps[0].corrupt_value)
    for found in maps:
        split = found.metadata["heads"]
        mattered = [
            cell
            for cell, value in zip(found.cells, found.values[0].tolist())
            if abs(value - found.corrupt_value) >= 0.05 * total
        ]
        assert split.values.shape == (1, DIMS.n_audio_head * len(mattered))
        if not mattered:
            continue
        exact = head_sweep(
            view,
            corrupt,
            source_cache,
            diff,
            "attn",
            "z",
            layers=found.layers,
            positions=mattered,
            progress=False,
        )
        torch.testing.assert_close(split.values, exact.values, atol=1e-5, rtol=1e-5)
        assert split.cell_labels[0].startswith("H0@")
        runs = len(found.cells) + split.values.shape[1]
        assert found.metadata["exact_runs"] >= runs
    assert any(r.metadata["heads"].values.shape[1] for r in maps)
    with pytest.raises(ValueError, match="use act='attn_out'"):
        adaptive_map(view, clean, corrupt, diff, heads=True, progress=False)


def _effects(result, base):
    return (result.values[0] - base).abs()


def test_top_k_search_reports_the_full_maps_top_cells_unless_a_window_hides_one_slow(tiny_en):
    """Branch and bound for the top 10 of a two-layer map of frame pairs on a real pair: its
    cells are exact, every window it leaves whole is below its stated bound, and every top-10
    cell of the full map is reported singly unless the window that holds it has a smaller
    joint effect than the cell alone (the one assumption the search makes)."""
    pair = next(p for p in bundled_pairs() if p.id == "paris-berlin")
    contrast = word_contrast(tiny_en, pair)
    view = tiny_en.encoder_stream(contrast.tokens)
    clean, corrupt = tiny_en.to_frames(pair.clean_audio), tiny_en.to_frames(pair.corrupt_audio)
    n_speech = round(len(pair.clean_audio) / 16000 / 0.02)
    cells = [list(range(p, min(p + 2, n_speech))) for p in range(0, n_speech, 2)]
    full = resid_pre_sweep(
        view, clean, corrupt, contrast.metric(), layers=[2, 3], cells=cells, progress=False
    )
    base = full.corrupt_value
    found = adaptive_resid_pre_map(
        view, clean, corrupt, contrast.metric(), layers=[2, 3], cells=cells, window=8,
        threshold=0.0, top_k=10, progress=False,
    )  # fmt: skip
    full_effects = (full.values - base).abs()
    top = set(full_effects.flatten().argsort(descending=True)[:10].tolist())
    n_cells, reported = len(cells), set()
    runs = 0
    for li, result in enumerate(found):
        members = result.metadata["members"]
        assert sorted(m for group in members for m in group) == list(range(n_cells))
        runs += result.metadata["exact_runs"]
        for group, value, effect in zip(members, result.values[0], _effects(result, base)):
            if len(group) == 1:
                reported.add(li * n_cells + group[0])
                assert value.item() == pytest.approx(full.values[li, group[0]].item(), abs=1e-4)
            else:
                assert effect.item() < result.metadata["window_bound"]
                hidden = [li * n_cells + m for m in group if li * n_cells + m in top]
                # a top cell left inside a window: only where the window moves the metric less
                # than that cell alone (the monotonicity the search assumes, broken here)
                for cell in hidden:
                    assert full_effects.flatten()[cell].item() > effect.item()
    assert len(top & reported) >= 9
    assert runs < 0.6 * full.values.numel()  # frame pairs of a 2 s clip: the word is a fifth
    assert {r.metadata["window_bound"] for r in found} == {found[0].metadata["window_bound"]}


def test_a_seed_ranking_is_measured_first_and_prunes_the_rest():
    """With the exact map as its seed (a perfect ranking) the search measures the true top
    cells first and reports them, and leaves whole every window below the k-th of them, in
    no more runs than without a seed; without one, a top cell is missed only inside a window
    whose joint effect is below the cell's own; all values exact; bad seeds are refused."""
    view, clean, corrupt = random_setup()
    full = resid_pre_sweep(view, clean, corrupt, diff, progress=False)
    effects = (full.values - full.corrupt_value).abs()
    kwargs = dict(window=3, threshold=0.0, top_k=3, progress=False)
    plain = adaptive_resid_pre_map(view, clean, corrupt, diff, **kwargs)
    seeded = adaptive_resid_pre_map(view, clean, corrupt, diff, seed=effects, **kwargs)
    top = set(effects.flatten().argsort(descending=True)[:3].tolist())
    for maps in (plain, seeded):
        for li, r in enumerate(maps):
            assert sorted(m for group in r.metadata["members"] for m in group) == list(range(6))
            exact = resid_pre_sweep(
                view, clean, corrupt, diff, layers=r.layers, cells=r.cells, progress=False
            )
            torch.testing.assert_close(r.values, exact.values, atol=1e-5, rtol=1e-5)
            for group, effect in zip(r.metadata["members"], _effects(r, r.corrupt_value)):
                if len(group) > 1:
                    assert effect.item() < r.metadata["window_bound"]
                    for cell in [li * 6 + m for m in group if li * 6 + m in top]:
                        assert effects.flatten()[cell].item() > effect.item()
    singles = {
        li * 6 + group[0]
        for li, r in enumerate(seeded)
        for group in r.metadata["members"]
        if len(group) == 1
    }
    assert top <= singles
    third = sorted(effects.flatten().tolist())[-3]
    for r in seeded:
        assert r.metadata["window_bound"] == pytest.approx(third, abs=1e-5)
    cost = lambda maps: sum(r.metadata["exact_runs"] for r in maps)  # noqa: E731
    assert cost(seeded) <= cost(plain)
    for bad, message in (
        (dict(seed=effects), "give top_k too"),
        (dict(seed=effects[:1], top_k=2), r"shape \(1, 6\); the map has 2 layer"),
        (dict(seed=torch.full_like(effects, float("nan")), top_k=2), "holds NaN"),
        (dict(top_k=0), "top_k must be an integer >= 1"),
    ):
        with unchecked_types(), pytest.raises(ValueError, match=message):
            adaptive_resid_pre_map(view, clean, corrupt, diff, progress=False, **bad)
