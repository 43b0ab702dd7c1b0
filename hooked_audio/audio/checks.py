"""Checks shared by the audio loader, the corruptions and the pair format."""

from __future__ import annotations

import numbers

import numpy as np

from hooked_audio.audio.errors import AudioInputError


def check_rate(rate: object, name: str) -> int:
    """Return ``rate`` as a positive ``int`` or raise."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Integral) or int(rate) <= 0:
        raise AudioInputError(
            f"{name} must be a positive int in Hz, got {rate!r}; pass e.g. {name}=16000."
        )
    return int(rate)


def check_samples(samples: np.ndarray, subject: str) -> None:
    """Refuse an empty waveform or one with NaN/inf samples.

    ``subject`` starts the message, e.g. ``"audio"`` or ``"silence: audio"``.
    """
    if samples.size == 0:
        raise AudioInputError(
            f"{subject} is empty (shape {samples.shape}); pass a non-empty waveform."
        )
    bad = int(np.count_nonzero(~np.isfinite(samples)))
    if bad:
        raise AudioInputError(
            f"{subject} contains {bad} NaN or inf samples out of {samples.size}; clean it "
            "first (e.g. np.nan_to_num) or check how it was produced."
        )
