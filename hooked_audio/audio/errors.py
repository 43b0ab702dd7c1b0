"""The single exception type raised for bad audio input."""

from __future__ import annotations


class AudioInputError(ValueError):
    """Audio input that cannot be turned into a 16 kHz mono waveform or log-mel.

    Every message names the problem *and* the fix, e.g. "pass sample_rate=".
    Subclasses ``ValueError`` so generic ``except ValueError`` handlers still work.
    """
