"""`difference_span` finds a minimal pair's changed word from the sound alone: on real
synthesised pairs (the bundled ones and new sentences) within 0.04 s of the synthesised start
and 0.07 s of the end, from a rough time 0.2 s off, and through a change of voice; and it
declines clips that differ everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hooked_audio.corruptions import pitch_shift, white_noise
from hooked_audio.models.whisper.front_end import log_mel
from hooked_audio.pairs import bundled_pairs
from hooked_audio.pairs.difference_span import difference_span, position_difference
from hooked_audio.study.pair_source import pairs_from_csv

NEW_SENTENCES = """sentence,word,replacement
The old man walked his dog along the river.,dog,cat
Please close the window before you leave.,window,door
My brother lives in a small village near the coast.,village,city
"""


def profile(clean, corrupt) -> np.ndarray:
    n_positions = math.ceil(len(clean) / 16000 / 0.02)
    clean_mel, corrupt_mel = log_mel([np.asarray(clean), np.asarray(corrupt)], n_mels=80)
    return position_difference(clean_mel, corrupt_mel, n_positions)


@pytest.fixture(scope="module")
def content_pairs(tmp_path_factory):
    csv = tmp_path_factory.mktemp("pairs") / "new.csv"
    csv.write_text(NEW_SENTENCES)
    return [p for p in bundled_pairs() if p.kind == "content"] + list(pairs_from_csv(csv))


def test_the_changed_word_is_found_from_a_rough_time(content_pairs):
    assert len(content_pairs) == 6
    for pair in content_pairs:
        difference = profile(pair.clean_audio, pair.corrupt_audio)
        start, end = pair.spans_s[0]
        for shift in (-0.2, 0.0, 0.2):
            found = difference_span(difference, (start + shift, end + shift))
            assert found is not None, pair.id
            assert found[0] == pytest.approx(start, abs=0.04 + 1e-9), (pair.id, shift, found)
            assert found[1] == pytest.approx(end, abs=0.07 + 1e-9), (pair.id, shift, found)


def test_another_voice_still_shows_the_word_and_noise_everywhere_is_declined(content_pairs):
    pair = content_pairs[0]
    start, end = pair.spans_s[0]
    lower = pitch_shift(pair.corrupt_audio, -3.0)  # the same timing, 3 semitones lower
    found = difference_span(profile(pair.clean_audio, lower), (start, end))
    assert found == pytest.approx((start, end), abs=0.07)
    noisy = white_noise(pair.clean_audio, 0.0)  # the same words, noise all along
    assert difference_span(profile(pair.clean_audio, noisy), (start, end)) is None


def test_the_span_on_a_known_profile():
    difference = np.full(100, 0.05)
    difference[40:50] = 1.0
    difference[52:55] = 0.6  # after a gap of two positions: joined
    difference[62:64] = 0.9  # after a gap of seven: left out
    assert difference_span(difference, (0.7, 0.9)) == pytest.approx((0.80, 1.10))
    click = np.full(100, 0.05)
    click[30] = 1.0  # one position: no word
    assert difference_span(click, (0.5, 0.7)) is None


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="one shape"):
        position_difference(torch.zeros(80, 100), torch.zeros(80, 90), 40)
    with pytest.raises(ValueError, match="needs 120 mel frames"):
        position_difference(torch.zeros(80, 100), torch.zeros(80, 100), 60)
    with pytest.raises(ValueError, match="outside the clip"):
        difference_span(np.ones(50), (3.0, 3.5))
