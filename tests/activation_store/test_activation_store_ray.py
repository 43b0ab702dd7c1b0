"""The activation store written by two workers of a local Ray cluster equals the one written in
this process, and resumes a store this process started."""

from __future__ import annotations

import numpy as np
import pytest

from hooked_audio.activation_store import ActivationStore, clips_from_pairs, write_activations
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.pairs import bundled_pairs

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")

from hooked_audio.activation_store.ray_writers import RayStoreWriters  # noqa: E402

RESID = "encoder.blocks.3.hook_resid_post"


def test_a_store_written_on_a_local_ray_cluster_equals_the_local_one_slow(tiny_en, tmp_path):
    clips = clips_from_pairs(bundled_pairs())
    source = WhisperEncoderSource(tiny_en, "tiny.en")
    quiet = dict(progress=False, batch_size=2)
    local = ActivationStore(write_activations(source, clips, [RESID], tmp_path / "local", **quiet))
    write_activations(source, clips[:3], [RESID], tmp_path / "ray", **quiet)
    on_ray = ActivationStore(
        write_activations(
            source, clips, [RESID], tmp_path / "ray", ray=RayStoreWriters(workers=2), **quiet
        )
    )
    assert not ray.is_initialized()
    assert sorted(on_ray.clips) == sorted(local.clips) and on_ray.clips[:3] == local.clips[:3]
    for clip in local.clips:
        assert on_ray.frame(RESID, clip).equals(local.frame(RESID, clip))
        np.testing.assert_allclose(
            on_ray.array(RESID, clip), local.array(RESID, clip), atol=1e-4, rtol=1e-4
        )
