"""The held-out scores against independent computations: the predictions are scikit-learn's
own `cross_val_predict` on the same clip folds (no clip on both sides of a fold), the scores
are scikit-learn's accuracy and balanced accuracy of them, and the clip bootstrap's interval
equals the exact one found by enumerating every resample of a tiny case worked by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import PredefinedSplit, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hooked_audio.probes import clip_bootstrap
from tests.probes.synthetic_store import HOOKS


def test_every_clip_is_held_out_once_and_never_trained_on_in_its_fold(speech_results, speech):
    predictions = speech_results.predictions
    for hook in HOOKS:
        rows = predictions[predictions["hook"] == hook]
        assert len(rows) == speech.labelled.sum()  # every labelled row predicted once
        assert rows.groupby("clip")["fold"].nunique().eq(1).all()  # a clip in one test fold
    held_out = [clip for fold in speech_results.folds for clip in fold]
    assert sorted(held_out) == sorted(set(speech.clip[speech.labelled]))  # each clip once


def test_predictions_and_scores_equal_scikit_learns_on_the_same_folds(
    store, speech, speech_results
):
    keep = speech.labelled
    y = speech.values[keep].astype(str)
    for hook in HOOKS:
        rows = speech_results.predictions.query("hook == @hook")
        assert (rows["clip"].to_numpy() == speech.clip[keep]).all()
        expected = cross_val_predict(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            store.array(hook)[keep],
            y,
            cv=PredefinedSplit(rows["fold"].to_numpy()),
        )
        assert (rows["predicted"].to_numpy() == expected).all()
        table = speech_results.table.set_index("hook").loc[hook]
        assert table["accuracy"] == pytest.approx(accuracy_score(y, expected))
        assert table["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, expected))


def test_the_clip_bootstrap_interval_is_the_exact_one_of_a_tiny_case():
    # right / rows per clip: a 2/2, b 1/3, c 0/1, d 3/4 -> 6 / 10 right
    right = {"a": 2, "b": 1, "c": 0, "d": 3}
    rows = {"a": 2, "b": 3, "c": 1, "d": 4}
    y_true, y_pred, clips = [], [], []
    for clip in "abcd":
        y_true += ["s"] * rows[clip]
        y_pred += ["s"] * right[clip] + ["n"] * (rows[clip] - right[clip])
        clips += [clip] * rows[clip]
    accuracy, balanced = clip_bootstrap(y_true, y_pred, clips, n_bootstrap=40000, seed=3)
    assert accuracy.value == 6 / 10
    assert balanced.value == 6 / 10  # one class: its recall
    # every resample of the four clips (256, equally likely), its accuracy by hand
    scores = np.array(
        sorted(
            sum(right[c] for c in draw) / sum(rows[c] for c in draw)
            for draw in itertools.product("abcd", repeat=4)
        )
    )
    cumulative = np.arange(1, 257) / 256
    # the exact 2.5% and 97.5% points: the smallest score whose cumulative share reaches them
    low, high = (scores[np.searchsorted(cumulative, q)] for q in (0.025, 0.975))
    assert (low, high) == pytest.approx((0.25, 6 / 7))  # read off the table by hand
    # the ends are clear of the neighbouring scores' shares (40000 draws: +-0.0008 each)
    for q, end in ((0.025, low), (0.975, high)):
        assert abs((scores < end).mean() - q) > 0.005 and abs((scores <= end).mean() - q) > 0.005
    assert (accuracy.low, accuracy.high) == pytest.approx((low, high))


def test_one_clip_of_rows_gives_an_interval_of_one_point_and_bad_options_are_refused():
    accuracy, _ = clip_bootstrap(["s", "n", "s"], ["s", "s", "s"], ["a", "a", "a"])
    assert accuracy.low == accuracy.value == accuracy.high == 2 / 3  # nothing to resample
    with pytest.raises(ValueError, match="confidence must lie in"):
        clip_bootstrap(["s"], ["s"], ["a"], confidence=95)
    with pytest.raises(ValueError, match="one entry per row"):
        clip_bootstrap(["s", "n"], ["s"], ["a", "a"])
