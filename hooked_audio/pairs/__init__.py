"""Minimal-pair sets for activation patching: clean / corrupt audio with texts, spans and
answers, saved as ``manifest.jsonl`` plus FLAC files (see :mod:`.pair_set`)."""

from hooked_audio.pairs.builder import content_pair, prosody_pair, speaker_pair
from hooked_audio.pairs.bundled import bundled_pairs
from hooked_audio.pairs.pair_set import PAIR_KINDS, MinimalPair, PairSet
from hooked_audio.pairs.tts import Speech, speak
from hooked_audio.pairs.word_alignment import word_align

__all__ = [
    "PAIR_KINDS",
    "MinimalPair",
    "PairSet",
    "Speech",
    "bundled_pairs",
    "content_pair",
    "prosody_pair",
    "speaker_pair",
    "speak",
    "word_align",
]
