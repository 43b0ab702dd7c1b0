"""Load several audio clips at once."""

from __future__ import annotations

from collections.abc import Sequence

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.load import AudioLike, load_audio
from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE


def load_audio_batch(
    audio: AudioLike | Sequence[AudioLike],
    sample_rate: int | Sequence[int | None] | None = None,
    target_rate: int = SAMPLE_RATE,
) -> list[Audio]:
    """Load one or more clips with :func:`load_audio`.

    A ``list`` or ``tuple`` is a batch; anything else (a path, an array, a
    tensor, even a 2-D one) is a single clip and gives a list of one.

    Args:
        audio: a clip or a list/tuple of clips (paths, arrays, tensors, mixed).
        sample_rate: one rate for every clip, or a list/tuple with one rate
            (or ``None`` for paths and :class:`Audio`, which carry theirs) per clip.
        target_rate: output rate in Hz.

    Returns:
        One 1-D float32 :class:`Audio` per clip, lengths may differ.

    Raises:
        AudioInputError: naming the index of the failing clip.
    """
    items = list(audio) if isinstance(audio, (list, tuple)) else [audio]
    if not items:
        raise AudioInputError("audio batch is empty; pass at least one clip.")
    if isinstance(sample_rate, (list, tuple)):
        if len(sample_rate) != len(items):
            raise AudioInputError(
                f"got {len(sample_rate)} sample rates for {len(items)} clips; pass one "
                "rate per clip, or a single int for all of them."
            )
        rates = list(sample_rate)
    else:
        rates = [sample_rate] * len(items)
    out = []
    for i, (item, rate) in enumerate(zip(items, rates)):
        try:
            out.append(load_audio(item, rate, target_rate=target_rate))
        except AudioInputError as e:
            if len(items) == 1:
                raise
            raise AudioInputError(f"batch item {i}: {e}") from e
    return out
