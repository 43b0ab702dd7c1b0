"""Clips from a Hugging Face `datasets` audio column: decoded here from the stored bytes (no
audio backend needed in `datasets`), ids from a column, read lazily, and usable wherever clips
are (the store, streamed SAE batches)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import soundfile

datasets = pytest.importorskip("datasets")

from hooked_audio.activation_store import bundled_clips, clips_from_dataset  # noqa: E402
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource  # noqa: E402
from hooked_audio.sae import ActivationBatches  # noqa: E402

HOOK = "encoder.blocks.0.hook_resid_post"


def flac_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, 16000, format="FLAC", subtype="PCM_24")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def source_clips():
    return bundled_clips()[:2]


@pytest.fixture(scope="module")
def dataset(source_clips):
    table = datasets.Dataset.from_dict(
        {
            "audio": [{"bytes": flac_bytes(c.audio), "path": None} for c in source_clips],
            "name": [c.id for c in source_clips],
        }
    )
    return table.cast_column("audio", datasets.Audio())


def test_clips_decode_from_the_column_with_ids(dataset, source_clips):
    clips = clips_from_dataset(dataset, "audio", id_column="name")
    assert len(clips) == 2 and [c.id for c in clips] == [c.id for c in source_clips]
    for got, want in zip(clips, source_clips):
        np.testing.assert_allclose(got.audio, want.audio, atol=1e-5)
        assert got.audio.sample_rate == 16000
    assert [c.id for c in clips_from_dataset(dataset)] == ["row-0", "row-1"]


def test_decoded_arrays_are_taken_as_they_are(source_clips):
    table = datasets.Dataset.from_dict(
        {"audio": [{"array": source_clips[0].audio.tolist(), "sampling_rate": 16000}]}
    )
    (clip,) = clips_from_dataset(table)
    np.testing.assert_allclose(clip.audio, source_clips[0].audio, atol=1e-6)


def test_bad_columns_and_rows_are_refused(dataset):
    with pytest.raises(KeyError, match="no column 'speech'"):
        clips_from_dataset(dataset, "speech")
    with pytest.raises(KeyError, match="no column 'speaker'"):
        clips_from_dataset(dataset, id_column="speaker")
    empty = datasets.Dataset.from_dict({"audio": [{"note": "nothing"}]})
    with pytest.raises(ValueError, match="holds no audio"):
        clips_from_dataset(empty)[0]


def test_dataset_clips_stream_the_encoder_rows(tiny_en, dataset, source_clips):
    source = WhisperEncoderSource(tiny_en)
    clips = clips_from_dataset(dataset, id_column="name")
    n_rows = sum(math.ceil(len(c.audio) / 320) for c in source_clips)  # 320 samples a frame
    batches = ActivationBatches.from_clips(source, clips, HOOK, batch_size=n_rows)
    rows = next(batches).numpy()
    expected = np.concatenate(
        [
            source.activations([np.asarray(c.audio)], [HOOK])[HOOK][
                0, : math.ceil(len(c.audio) / 320)
            ].numpy()
            for c in source_clips
        ]
    )
    key = lambda a: np.lexsort(a.T[:3])
    np.testing.assert_allclose(rows[key(rows)], expected[key(expected)], atol=1e-4)
