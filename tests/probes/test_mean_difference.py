"""`mean_difference_direction` against the class means computed here from the store's rows:
clip-weighted by default, row-weighted on request; it recovers the synthetic store's loudness
axis at the hook that carries it; bad classes and hooks get errors that name the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hooked_audio.probes import NON_SPEECH, SPEECH, mean_difference_direction
from tests.probes.synthetic_store import CARRIER, HOOKS, SyntheticSource


def _clip_weighted_mean(x, clips, rows):
    means = [x[rows & (clips == clip)].mean(0) for clip in dict.fromkeys(clips[rows])]
    return np.mean(means, axis=0)


def test_it_is_the_difference_of_the_class_means(store, speech):
    x = store.array(CARRIER).astype(np.float64)
    is_speech, is_silence = speech.values == SPEECH, speech.values == NON_SPEECH
    clip_weighted = _clip_weighted_mean(x, speech.clip, is_speech) - _clip_weighted_mean(
        x, speech.clip, is_silence
    )
    raw = mean_difference_direction(store, speech, CARRIER, towards=SPEECH, unit=False)
    assert raw.dtype == torch.float32
    np.testing.assert_allclose(raw.numpy(), clip_weighted, rtol=1e-5, atol=1e-6)
    row_weighted = x[is_speech].mean(0) - x[is_silence].mean(0)
    by_rows = mean_difference_direction(
        store, speech, CARRIER, towards=SPEECH, per_clip=False, unit=False
    )
    np.testing.assert_allclose(by_rows.numpy(), row_weighted, rtol=1e-5, atol=1e-6)
    assert not np.allclose(clip_weighted, row_weighted)  # the weighting is a real choice
    unit = mean_difference_direction(store, speech, CARRIER, towards=SPEECH)
    assert float(unit.norm()) == pytest.approx(1.0)
    torch.testing.assert_close(
        mean_difference_direction(store, speech, CARRIER, towards=NON_SPEECH), -unit
    )
    axis = torch.as_tensor(SyntheticSource().axis, dtype=torch.float32)
    assert float(unit @ axis) > 0.95  # the axis the loudness was written along
    noise = mean_difference_direction(store, speech, HOOKS[0], towards=SPEECH)
    assert abs(float(noise @ axis)) < 0.9  # a noise hook carries no such axis


def test_errors_name_the_problem(store, speech):
    with pytest.raises(
        ValueError, match=r"hooks \['blocks.9.hook_resid_post'\] are not in the store"
    ):
        mean_difference_direction(store, speech, "blocks.9.hook_resid_post", towards=SPEECH)
    with pytest.raises(ValueError, match="towards='music' is not a labelled class"):
        mean_difference_direction(store, speech, CARRIER, towards="music")
    with pytest.raises(ValueError, match="the same class"):
        mean_difference_direction(store, speech, CARRIER, towards=SPEECH, away=SPEECH)
    only_speech = [SPEECH if v == SPEECH else None for v in speech.values]
    with pytest.raises(ValueError, match="no other class"):
        mean_difference_direction(store, only_speech, CARRIER, towards=SPEECH)
