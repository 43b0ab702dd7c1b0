"""Word-start scoring against invariants: a perfect estimate, a known shift, missing words."""

from __future__ import annotations

import pytest

from hooked_audio.word_times import score_clips, score_word_starts

REFERENCE = (("he", 0.13, 0.27), ("turned", 0.27, 0.6), ("sharply", 0.6, 1.14), ("and", 1.14, 1.3))


def shifted(words, by):
    return tuple((w, s + by, e + by) for w, s, e in words)


def test_the_reference_scores_perfectly_against_itself():
    scores = score_word_starts(REFERENCE, REFERENCE)
    assert scores["f1@20ms"] == scores["f1@100ms"] == 1.0
    assert scores["mean_error_ms"] == 0.0 and scores["matched"] == 4


def test_a_shift_is_inside_the_tolerances_above_it_only():
    scores = score_word_starts(REFERENCE, shifted(REFERENCE, 0.03))
    assert scores["f1@20ms"] == 0.0 and scores["f1@50ms"] == scores["f1@100ms"] == 1.0
    assert scores["mean_signed_ms"] == pytest.approx(30.0)
    late = score_word_starts(REFERENCE, shifted(REFERENCE, -0.07))
    assert late["f1@50ms"] == 0.0 and late["f1@100ms"] == 1.0 and late["mean_signed_ms"] < 0


def test_words_left_out_or_added_cost_recall_or_precision():
    fewer = score_word_starts(REFERENCE, REFERENCE[:2])  # 2 of 4 found, both exact
    assert fewer["f1@50ms"] == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    extra = score_word_starts(REFERENCE, (("um", 0.0, 0.1), *REFERENCE, ("uh", 1.4, 1.5)))
    assert extra["matched"] == 4 and extra["f1@50ms"] == pytest.approx(2 * (4 / 6) / (4 / 6 + 1))
    case = score_word_starts(REFERENCE, (("He", 0.13, 0.27), ("Turned,", 0.27, 0.6)))
    assert case["matched"] == 2


def test_pooled_clips_match_within_each_clip_and_add_their_counts():
    """Pooled over two clips, the counts add up and the F1 is over all words: 2 hits at 50 ms
    ("the" 10 ms and "the" 30 ms late; "cat" 200 ms late) of 3 reference and 4 estimated words."""
    first = (("the", 0.0, 0.5), ("cat", 0.5, 1.0))
    second = (("the", 0.0, 0.5),)
    estimates = ((("the", 0.01, 0.5), ("cat", 0.7, 1.0)), (("the", 0.03, 0.4), ("dog", 0.5, 0.6)))
    pooled = score_clips([(first, estimates[0]), (second, estimates[1])])
    assert (pooled["n_reference"], pooled["n_estimate"], pooled["matched"]) == (3, 4, 3)
    precision, recall = 2 / 4, 2 / 3
    assert pooled["f1@50ms"] == pytest.approx(2 * precision * recall / (precision + recall))
    assert pooled["median_error_ms"] == pytest.approx(30.0)
    assert score_clips([(first, estimates[0])]) == score_word_starts(first, estimates[0])
    with pytest.raises(ValueError, match="No reference words"):
        score_clips([(first, estimates[0]), ((), estimates[1])])
