"""An activation store's folder is its own and its files are checked on read: links planted in
it are refused, a file holding another clip's rows or cut short is an error naming it, and a
store resumed with other weights under the same model name is refused instead of mixing two
models' activations."""

from __future__ import annotations

import copy
import os
import shutil

import numpy as np
import pytest
import torch

from hooked_audio.activation_store import ActivationStore, clips_from_pairs, write_activations
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.pairs import bundled_pairs

RESID = "encoder.blocks.2.hook_resid_post"


@pytest.fixture(scope="module")
def clips():
    return clips_from_pairs(bundled_pairs()[:1])  # one pair: its clean and corrupt clips


@pytest.fixture(scope="module")
def written(tiny_en, clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("store") / "store"
    write_activations(
        WhisperEncoderSource(tiny_en, "tiny.en"), clips, [RESID], folder, progress=False
    )
    return folder


@pytest.fixture
def store_copy(written, tmp_path):
    return shutil.copytree(written, tmp_path / "store")


def test_a_file_holding_another_clips_rows_is_refused(store_copy, clips):
    first, second = (store_copy / RESID / f"{clip.id}.arrow" for clip in clips)
    shutil.copyfile(second, first)
    store = ActivationStore(store_copy)
    with pytest.raises(ValueError, match=rf"{first.name} does not hold clip '{clips[0].id}'"):
        store.array(RESID)
    assert store.array(RESID, clips=[clips[1].id]).shape[0] > 0  # the other clip still reads


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.write_bytes(path.read_bytes()[:200]), "not a readable Arrow file"),
        (lambda path: path.write_bytes(os.urandom(4096)), "not a readable Arrow file"),
        (lambda path: path.unlink(), "is missing, but clips.jsonl lists"),
    ],
    ids=["truncated", "random", "missing"],
)
def test_damaged_arrow_files_name_the_file_and_the_fix(store_copy, clips, damage, message):
    damage(store_copy / RESID / f"{clips[0].id}.arrow")
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        ActivationStore(store_copy).array(RESID)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("store.json", '{"format": 1, "hooks"', "store's manifest.*not valid JSON"),
        ("clips.jsonl", "[1]\n", "a line is not a finished clip"),
    ],
)
def test_damaged_manifests_are_named(store_copy, name, content, message):
    (store_copy / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        ActivationStore(store_copy)


def test_links_are_refused_on_read_and_write(tiny_en, clips, store_copy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(store_copy / "store.json", outside / "store.json")
    os.symlink(outside / "store.json", store_copy / "store.json")
    with pytest.raises(ValueError, match="store.json is a symlink"):
        ActivationStore(store_copy)
    # a hook folder linked out of a new store: nothing is written through it
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    os.symlink(outside, fresh / RESID)
    source = WhisperEncoderSource(tiny_en, "tiny.en")
    with pytest.raises(ValueError, match=f"{RESID} is a symlink"):
        write_activations(source, clips, [RESID], fresh, progress=False)
    assert sorted(p.name for p in outside.iterdir()) == ["store.json"]


def test_resuming_with_other_weights_under_the_same_name_is_refused(tiny_en, clips, tmp_path):
    folder = tmp_path / "store"
    source = WhisperEncoderSource(tiny_en, "tiny.en")
    write_activations(source, clips[:1], [RESID], folder, progress=False)
    other = copy.deepcopy(tiny_en)
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    with pytest.raises(ValueError, match="with other weights.*would mix two models"):
        write_activations(
            WhisperEncoderSource(other, "tiny.en"), clips, [RESID], folder, progress=False
        )
    # the same weights resume
    store = ActivationStore(write_activations(source, clips, [RESID], folder, progress=False))
    assert store.clips == [clip.id for clip in clips]
    assert np.isfinite(store.array(RESID)).all()
