"""A probe's direction, for steering: in the model's activation coordinates it is the
gradient of the probe's own decision function (found here by finite differences through the
fitted scikit-learn pipeline, scaler included), it points towards the positive class (moving
activations along it raises P(speech)), and with several classes it is the gradient of the
chosen class's log-probability against the others' mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.probes import position_in_word_labels, train_probes
from tests.probes.synthetic_store import CARRIER, FEATURES, SyntheticSource

STEP = 1e-2


def finite_difference_gradient(function, x: np.ndarray) -> np.ndarray:
    """d function / d x at `x` (`[features]`), central differences along each axis."""
    steps = np.eye(len(x)) * STEP
    return (function(x + steps) - function(x - steps)) / (2 * STEP)


def test_the_direction_is_the_decision_functions_gradient_and_raises_p_speech(
    store, speech_results
):
    probe = speech_results.probe(CARRIER)
    assert list(probe[-1].classes_) == ["non-speech", "speech"]
    x = store.array(CARRIER)[0].astype(np.float64)
    gradient = finite_difference_gradient(probe.decision_function, x)
    raw = speech_results.direction(1, unit=False)  # layer 1 is the carrier's
    assert raw.dtype == torch.float32 and raw.shape == (FEATURES,)
    np.testing.assert_allclose(raw.numpy(), gradient, rtol=1e-4, atol=1e-5)
    unit = speech_results.direction(CARRIER)
    assert float(unit.norm()) == pytest.approx(1.0)
    np.testing.assert_allclose(unit.numpy(), gradient / np.linalg.norm(gradient), atol=1e-6)
    torch.testing.assert_close(speech_results.direction(1, towards="non-speech"), -unit)
    # the probe found the axis the loudness was written along (up to noise)
    assert float(unit @ torch.as_tensor(SyntheticSource().axis, dtype=torch.float32)) > 0.9

    # steering: silent frames moved along the direction become speech to the probe
    silent = store.array(CARRIER)[store.frame(CARRIER)["word"].isna().to_numpy()][:50]
    p_speech = [
        probe.predict_proba(silent + alpha * unit.numpy())[:, 1].mean() for alpha in (0, 1, 2, 4)
    ]
    assert p_speech == sorted(p_speech) and p_speech[0] < 0.2 < 0.9 < p_speech[-1]


def test_a_multiclass_direction_is_its_classs_log_odds_gradient(store):
    results = train_probes(store, position_in_word_labels(store), hooks=[CARRIER], progress=False)
    probe = results.probe(CARRIER)
    x = store.array(CARRIER)[3].astype(np.float64)
    for k, name in enumerate(probe[-1].classes_):

        def log_odds(rows, k=k):
            log_p = probe.predict_log_proba(rows)
            return log_p[:, k] - log_p.mean(axis=1)

        expected = finite_difference_gradient(log_odds, x)
        np.testing.assert_allclose(
            results.direction(CARRIER, towards=name, unit=False).numpy(),
            expected,
            rtol=1e-4,
            atol=1e-5,
        )
    with pytest.raises(ValueError, match="name the class the direction points towards"):
        results.direction(CARRIER)
    with pytest.raises(ValueError, match="not one of the probe's classes"):
        results.direction(CARRIER, towards="speech")
