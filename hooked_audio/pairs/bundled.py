"""The minimal pairs shipped with the package (generated once by `make_bundled_pairs`)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hooked_audio.pairs.builder import content_pair, prosody_pair, speaker_pair
from hooked_audio.pairs.pair_set import PairSet

JFK = "And so my fellow Americans, ask not what your country can do for you."


def bundled_pairs() -> PairSet:
    """One content, one speaker and one prosody pair (espeak-ng voices, 16 kHz)."""
    return PairSet.load(Path(str(files("hooked_audio") / "data" / "pairs")))


def make_bundled_pairs(directory: Path) -> PairSet:
    """Regenerate the bundled pairs (espeak-ng output varies by milliseconds between runs)."""
    pairs = PairSet([
        content_pair("jfk-americans-germans", JFK, "Americans", "Germans"),
        speaker_pair("country-voice", "Ask what you can do for your country.",
                     other_voice="en-us+m3"),
        prosody_pair("jfk-pitch", JFK, pitch=50, other_pitch=80),
    ])
    pairs.save(directory)
    return pairs
