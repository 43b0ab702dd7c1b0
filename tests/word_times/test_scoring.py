"""Word-start scoring against invariants: a perfect estimate, a known shift, missing words."""

from __future__ import annotations

import pytest

from hooked_audio.word_times import score_word_starts

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
