"""The minimal pairs shipped with the package (generated once by `make_bundled_pairs`).

Sentences, words and voices were chosen so that tiny.en transcribes every clip correctly
and, over repeated generations, hears each content pair differ at exactly the intended word
and each speaker / prosody pair alike (tests/test_bundled_pairs.py checks the shipped files).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hooked_audio.pairs.builder import content_pair, prosody_pair, speaker_pair
from hooked_audio.pairs.pair_set import PairSet

COUNTRY = "Ask what you can do for your country."
PARIS = "We will meet in Paris next summer."


def bundled_pairs() -> PairSet:
    """Three content, two speaker and two prosody pairs (espeak-ng voices, 16 kHz,
    word-aligned; `meta["clean_words"]` gives every word's time span)."""
    return PairSet.load(Path(str(files("hooked_audio") / "data" / "pairs")))


def make_bundled_pairs(directory: Path) -> PairSet:
    """Regenerate the bundled pairs into `directory` (espeak-ng output varies by
    milliseconds between runs, so the files change; rerun the bundled-pair tests)."""
    pairs = PairSet(
        [
            content_pair("paris-berlin", PARIS, "Paris", "Berlin"),
            content_pair(
                "football-tennis",
                "The children are playing football in the garden.",
                "football",
                "tennis",
            ),
            content_pair("car-bike", "He drove his car to the station.", "car", "bike"),
            speaker_pair("country-voice", COUNTRY, other_voice="en-us+m3"),
            speaker_pair("paris-voice", PARIS, other_voice="en-us+f3"),
            prosody_pair(
                "window-pitch", "Please open the window before you leave.", pitch=50, other_pitch=80
            ),
            prosody_pair("country-pitch", COUNTRY, pitch=50, other_pitch=20),
        ]
    )
    pairs.save(directory)
    return pairs
