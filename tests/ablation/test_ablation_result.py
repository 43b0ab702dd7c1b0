"""`AblationResult`'s ranking on made-up rows: sites with the same change of the study's metric
are ordered by the tie-breaking metric, and `top(k)` warns when place k is still a tie."""

import warnings

import pytest

from hooked_audio.ablation_study import AblationSpec
from hooked_audio.ablation_study.result import TIE_BREAKERS, AblationResult
from hooked_audio.metrics.transcripts import TRANSCRIPT_METRICS


def _rows(per_unit: dict[str, list[tuple[int, float]]]) -> list[dict]:
    """One row per clip: (hallucination, words per second) for each unit's two clips."""
    rows = []
    for unit, clips in per_unit.items():
        head = None if unit == "baseline" else int(unit[-1])
        for clip, (hallucination, rate) in enumerate(clips):
            rows.append(
                {
                    "unit": unit,
                    "component": None if head is None else "decoder.self_heads",
                    "layer": None if head is None else 0,
                    "head": head,
                    "clip": f"c{clip}",
                    "hallucination": hallucination,
                    "words_per_second": rate,
                    "repetition": 0.0,
                }
            )
    return rows


SITES = {
    "baseline": [(1, 0.4), (1, 0.2)],
    "decoder.self_heads.L0H0": [(1, 0.4), (1, 0.2)],  # no change at all
    "decoder.self_heads.L0H1": [(1, 0.2), (1, 0.2)],  # fewer words, still hallucinating
    "decoder.self_heads.L0H2": [(0, 0.0), (1, 0.2)],  # one clip silenced
    "decoder.self_heads.L0H3": [(1, 0.6), (1, 0.2)],  # more words
}


def test_equal_changes_are_ordered_by_the_tie_breaker():
    result = AblationResult.from_rows(_rows(SITES), AblationSpec())
    summary = result.summary()
    assert list(summary.index) == [
        "decoder.self_heads.L0H2",  # hallucination -0.5
        "decoder.self_heads.L0H1",  # 0, words/s -0.1
        "decoder.self_heads.L0H0",  # 0, 0
        "decoder.self_heads.L0H3",  # 0, +0.1
    ]
    assert list(summary["delta"]) == pytest.approx([-0.5, 0.0, 0.0, 0.0])
    assert list(summary["words_per_second_delta"]) == pytest.approx([-0.2, -0.1, 0.0, 0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # places 2 and 3 differ on words per second
        assert list(result.top(2).index) == list(summary.index[:2])


def test_top_warns_when_place_k_is_a_tie_on_both_metrics():
    sites = {**SITES, "decoder.self_heads.L0H4": SITES["decoder.self_heads.L0H1"]}
    result = AblationResult.from_rows(_rows(sites), AblationSpec())
    with pytest.warns(UserWarning, match=r"2 sites \(decoder.self_heads.L0H1, .*L0H4\) tie for"):
        top = result.top(2)
    assert list(top.index) == ["decoder.self_heads.L0H2", "decoder.self_heads.L0H1"]
    with pytest.raises(ValueError, match=r"k \(how many sites\) must be an integer >= 1"):
        result.top(0)


def test_every_metric_has_a_tie_breaker():
    assert set(TIE_BREAKERS) == set(TRANSCRIPT_METRICS)
    assert all(TIE_BREAKERS[m] != m for m in TIE_BREAKERS)
