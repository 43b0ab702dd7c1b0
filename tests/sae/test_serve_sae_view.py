"""The probing page's SAE view: the features most active over a clip, drawn over its time, are
the spliced SAE's own feature activations."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sae_lens", reason="SAE tests need SAELens: pip install -e '.[sae]'")
pytest.importorskip("dash", reason="the page needs the serve extra: pip install -e '.[serve]'")

import torch  # noqa: E402

from hooked_audio.activation_store import bundled_clips  # noqa: E402
from hooked_audio.serve import figures  # noqa: E402
from hooked_audio.serve.probe import ClipProbe  # noqa: E402

from .conftest import HOOK  # noqa: E402

pytestmark = pytest.mark.sae


def test_sae_view_shows_the_most_active_features_at_their_times(tiny_en, trained_sae):
    probe = ClipProbe(tiny_en, bundled_clips()[0].audio)
    features, acts = probe.sae_features(trained_sae, n=5)
    with torch.no_grad():
        _, cache = tiny_en.run_with_cache(
            probe._mel_input, torch.tensor([probe.tokens[:1]]), names_filter=[HOOK]
        )
    expected = trained_sae.encode(cache[HOOK][0, : probe.n_positions])
    totals = expected.sum(0)
    assert features == [int(f) for f in totals.argsort(descending=True)[:5]]
    np.testing.assert_allclose(acts, expected[:, features].T.detach().numpy(), atol=1e-4)
    fig = figures.sae_features_figure(probe, trained_sae, n=5)
    assert list(fig.data[0].y) == [f"feature {f}" for f in features]
    assert np.asarray(fig.data[0].x)[0] == pytest.approx(0.01)
    assert not tiny_en.acts_to_saes
