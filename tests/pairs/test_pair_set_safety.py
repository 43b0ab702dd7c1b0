"""PairSet reads and writes only inside its directory; pair ids are safe and fixed."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from hooked_audio.pairs import MinimalPair, PairSet
from tests.helpers.audio_flow_helpers import make_pair


def saved(tmp_path, pair_id="p0"):
    """A saved one-pair set in `tmp_path / "set"` and its manifest entry."""
    directory = tmp_path / "set"
    PairSet([make_pair(pair_id)]).save(directory)
    entry = json.loads((directory / "manifest.jsonl").read_text())
    return directory, entry


def rewrite(directory, entry, **changes):
    (directory / "manifest.jsonl").write_text(json.dumps({**entry, **changes}) + "\n")


def outside_flac(tmp_path):
    """A readable 16 kHz FLAC outside the pair directory."""
    outside = make_pair("secret")
    PairSet([outside]).save(tmp_path / "elsewhere")
    return tmp_path / "elsewhere" / "secret_clean.flac"


def test_load_refuses_absolute_manifest_path(tmp_path):
    directory, entry = saved(tmp_path)
    rewrite(directory, entry, clean_audio=str(outside_flac(tmp_path)))
    with pytest.raises(ValueError, match=r"manifest.jsonl:1 .*clean_audio.*outside the pair"):
        PairSet.load(directory)


def test_load_refuses_dot_dot_manifest_path(tmp_path):
    directory, entry = saved(tmp_path)
    outside_flac(tmp_path)
    rewrite(directory, entry, corrupt_audio="../elsewhere/secret_clean.flac")
    with pytest.raises(ValueError, match=r"manifest.jsonl:1 .*corrupt_audio.*outside the pair"):
        PairSet.load(directory)


def test_load_refuses_symlink_leading_out(tmp_path):
    directory, entry = saved(tmp_path)
    (directory / "link.flac").symlink_to(outside_flac(tmp_path))
    rewrite(directory, entry, clean_audio="link.flac")
    with pytest.raises(ValueError, match=r"manifest.jsonl:1 .*'link.flac'.*outside the pair"):
        PairSet.load(directory)


def test_load_refuses_manifest_symlink_leading_out(tmp_path):
    directory, _ = saved(tmp_path)
    PairSet([make_pair("other")]).save(tmp_path / "elsewhere")
    (directory / "manifest.jsonl").unlink()
    (directory / "manifest.jsonl").symlink_to(tmp_path / "elsewhere" / "manifest.jsonl")
    with pytest.raises(ValueError, match="manifest.jsonl.*outside the pair directory"):
        PairSet.load(directory)


def test_load_refuses_a_non_string_path(tmp_path):
    directory, entry = saved(tmp_path)
    rewrite(directory, entry, clean_audio=None)
    with pytest.raises(ValueError, match=r"manifest.jsonl:1 .*non-empty path relative"):
        PairSet.load(directory)


def test_load_accepts_paths_that_stay_inside(tmp_path):
    directory, entry = saved(tmp_path)
    (directory / "sub").mkdir()
    (directory / "sub" / "link.flac").symlink_to(directory / "p0_clean.flac")
    rewrite(directory, entry, clean_audio="sub/link.flac", corrupt_audio="sub/../p0_corrupt.flac")
    assert PairSet.load(directory)[0].id == "p0"


@pytest.mark.parametrize(
    "bad_id", ["../evil", "a/b", "/abs", "", ".hidden", "-flag", "a\n", "a b", "x" * 201, 7]
)
def test_pair_ids_are_validated(bad_id):
    with pytest.raises(ValueError, match="MinimalPair id must be"):
        make_pair(bad_id)


def test_pair_id_is_fixed():
    pair = make_pair("p0")
    with pytest.raises(AttributeError, match="id is fixed.*dataclasses.replace"):
        pair.id = "../../evil"
    with pytest.raises(AttributeError):
        del pair.id
    assert pair.id == "p0"
    renamed = dataclasses.replace(pair, id="p1")
    assert renamed.id == "p1" and pair.id == "p0"
    with pytest.raises(ValueError, match="MinimalPair id must be"):
        dataclasses.replace(pair, id="../evil")
    pair.meta["note"] = "other fields stay editable"


def test_save_refuses_an_id_forced_past_the_guard(tmp_path):
    pair = make_pair("p0")
    object.__setattr__(pair, "id", "../evil")
    with pytest.raises(ValueError, match="MinimalPair id must be"):
        PairSet([pair]).save(tmp_path / "set")
    assert not (tmp_path / "evil_clean.flac").exists()


@pytest.mark.parametrize("name", ["p0_clean.flac", "p0_corrupt.flac", "manifest.jsonl"])
def test_save_replaces_a_planted_symlink(tmp_path, name):
    directory = tmp_path / "set"
    directory.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (directory / name).symlink_to(victim)
    PairSet([make_pair("p0")]).save(directory)
    assert victim.read_text() == "keep me"
    assert not (directory / name).is_symlink() and (directory / name).is_file()
    assert PairSet.load(directory)[0].id == "p0"
    assert sorted(os.listdir(directory)) == ["manifest.jsonl", "p0_clean.flac", "p0_corrupt.flac"]


def test_save_refuses_a_directory_at_the_target(tmp_path):
    directory = tmp_path / "set"
    (directory / "p0_clean.flac").mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match="p0_clean.flac.*is a directory"):
        PairSet([make_pair("p0")]).save(directory)
    assert sorted(os.listdir(directory)) == ["p0_clean.flac"]


def test_minimal_pair_is_still_a_dataclass():
    assert dataclasses.is_dataclass(MinimalPair)
    pair = make_pair("p0")
    assert dataclasses.replace(pair).id == "p0"
