"""The synthetic store (tests/probes/synthetic_store.py) and its speech probe, once per
session: several test files read them."""

from __future__ import annotations

import pytest

from hooked_audio.probes import speech_labels, train_probes
from tests.probes.synthetic_store import synthetic_store


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    return synthetic_store(tmp_path_factory.mktemp("synthetic_store"))


@pytest.fixture(scope="session")
def silent_clips(store):
    return [clip for clip in store.clips if clip.startswith("silence")]


@pytest.fixture(scope="session")
def speech(store, silent_clips):
    return speech_labels(store, non_speech_clips=silent_clips)


@pytest.fixture(scope="session")
def speech_results(store, speech):
    return train_probes(store, speech, progress=False)
