"""Audio that reaches the page as a `data:` URI (an upload, or a microphone recording), decoded
with soundfile and checked as the library checks any audio, with messages a person at the page
can act on."""

from __future__ import annotations

import base64
import binascii
import io

import soundfile

from hooked_audio.audio import Audio, load_audio

#: the largest upload the page decodes (a 30 s WAV at 48 kHz stereo 16-bit is 5.8 MB)
MAX_BYTES = 20 * 1024 * 1024


def decode_upload(contents: str, filename: str | None = None) -> Audio:
    """A `data:...;base64,...` URI of an audio file -> 16 kHz mono `Audio` (resampled, channels
    averaged). Refuses what is too large, not audio, empty or not finite."""
    name = filename or "the upload"
    if not isinstance(contents, str) or "," not in contents:
        raise ValueError(f"{name} did not arrive as a file; choose it again.")
    header, encoded = contents.split(",", 1)
    if len(encoded) * 3 // 4 > MAX_BYTES:
        raise ValueError(
            f"{name} is over {MAX_BYTES // (1024 * 1024)} MB; the page probes one 30 s window: "
            "cut the part you want first."
        )
    try:
        data = base64.b64decode(encoded, validate=True) if ";base64" in header else encoded
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"{name} could not be read ({error}).") from error
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(
            f"{name} is not an audio file soundfile can read (WAV, FLAC, OGG, MP3): {error}."
        ) from error
    if samples.shape[0] == 0:
        raise ValueError(f"{name} holds no samples.")
    return load_audio(samples.mean(axis=1), sample_rate=rate)
