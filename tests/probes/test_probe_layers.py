"""On a store where one layer carries speech vs non-speech linearly and the others carry
nothing, the probes find that layer (held-out clips, intervals apart), and the figure shows the
table's numbers at their layers with the chance line."""

from __future__ import annotations

import numpy as np
import pytest

from hooked_audio.probes import speech_labels, train_probes
from tests.probes.synthetic_store import CARRIER, EMBED, HOOKS, synthetic_store


def test_the_probe_finds_the_layer_that_carries_the_label(speech_results):
    table = speech_results.table.set_index("hook")
    assert list(table.index) == HOOKS
    assert table.loc[CARRIER, "balanced_accuracy"] > 0.9
    for hook in HOOKS:
        row = table.loc[hook]
        assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
        assert row["converged"]
        if hook != CARRIER:  # noise: chance, and the interval holds it
            assert abs(row["balanced_accuracy"] - 0.5) < 0.1
            assert row["balanced_accuracy_low"] <= 0.5 + 0.05
            assert table.loc[CARRIER, "balanced_accuracy_low"] > row["balanced_accuracy_high"]
    # chance: the majority class's share of the held-out rows; every row is held out once
    shares = speech_results.predictions.query("hook == @CARRIER")["label"].value_counts()
    assert table["chance_accuracy"].iloc[0] == pytest.approx(shares.max() / shares.sum())
    assert (table["layer"].tolist(), table["site"].unique().tolist()) == (
        [0, 1, 2],
        ["hook_resid_post"],
    )


@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy"])
def test_the_figure_shows_each_layers_score_band_and_chance(speech_results, metric):
    figure = speech_results.plot(metric)
    ax = figure.axes[0]
    table = speech_results.table
    line = next(line for line in ax.get_lines() if line.get_label() == "hook_resid_post")
    np.testing.assert_allclose(line.get_xdata(), table["layer"].astype(float))
    np.testing.assert_allclose(line.get_ydata(), table[metric])
    chance = next(line for line in ax.get_lines() if line.get_label() == "chance")
    expected = table["chance_accuracy" if metric == "accuracy" else "chance_balanced"].iloc[0]
    np.testing.assert_allclose(chance.get_ydata(), expected)
    band = ax.collections[0].get_paths()[0].vertices
    for x, low, high in zip(table["layer"], table[f"{metric}_low"], table[f"{metric}_high"]):
        at = band[np.isclose(band[:, 0], x)][:, 1]
        assert at.min() == pytest.approx(low) and at.max() == pytest.approx(high)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert "speech" in ax.get_title() and "12 clips" in ax.get_title()
    assert metric.replace("_", " ") in ax.get_ylabel()
    with pytest.raises(ValueError, match="metric must be one of"):
        speech_results.plot("f1")


def test_a_hook_outside_the_blocks_gets_its_own_tick_left_of_layer_0(tmp_path, silent_clips):
    store = synthetic_store(tmp_path, hooks=[EMBED, *HOOKS[:2]])
    results = train_probes(
        store, speech_labels(store, non_speech_clips=silent_clips), progress=False
    )
    table = results.table.set_index("hook")
    assert table.loc[EMBED, "site"] == EMBED and table["layer"].isna().sum() == 1
    with pytest.raises(ValueError, match=r"layers \[5\] are not among .* \[0, 1\]"):
        train_probes(store, speech_labels(store, silent_clips), layers=5, progress=False)
    ax = results.plot().axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [EMBED, "0", "1"]
    embed = next(line for line in ax.get_lines() if line.get_label() == EMBED)
    assert list(embed.get_xdata()) == [-1.0]
    assert list(embed.get_ydata()) == [table.loc[EMBED, "accuracy"]]
