"""Audio that reaches the page as a `data:` URI (an upload, or a microphone recording), decoded
with soundfile and checked as the library checks any audio, with messages a person at the page
can act on."""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
import warnings
from pathlib import Path

import soundfile

from hooked_audio.audio import Audio, load_audio
from hooked_audio.word_times import WordTimes, read_word_times

#: the largest upload the page decodes (a 30 s WAV at 48 kHz stereo 16-bit is 5.8 MB)
MAX_BYTES = 20 * 1024 * 1024
#: the largest word-times file (a 30 s clip's TextGrid with phones is some tens of kB)
MAX_WORDS_BYTES = 1024 * 1024
WORD_TIMES_SUFFIXES = (".textgrid", ".ctm", ".csv")


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
    data = _payload(header, encoded, name)
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(
            f"{name} is not an audio file soundfile can read (WAV, FLAC, OGG, MP3): {error}."
        ) from error
    if samples.shape[0] == 0:
        raise ValueError(f"{name} holds no samples.")
    return load_audio(samples.mean(axis=1), sample_rate=rate)


def read_upload(contents: str, filename: str | None = None) -> tuple[Audio, list[str]]:
    """`decode_upload`, with what the loader warned about (e.g. samples far above 1.0: int16
    values stored as float, which Whisper hears as noise) as notes for the page to show: a
    warning only in the server's log is one the researcher never sees."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio = decode_upload(contents, filename)
    notes = [f"{filename or 'The upload'}: {w.message}" for w in caught]
    return audio, list(dict.fromkeys(notes))


def _payload(header: str, encoded: str, name: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True) if ";base64" in header else encoded.encode()
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"{name} could not be read ({error}).") from error


def decode_word_times(contents: str, filename: str | None) -> WordTimes:
    """A `data:` URI of a TextGrid, CTM or CSV of word times (told apart by the file's suffix)
    -> its words, read and checked by `hooked_audio.word_times.read_word_times`."""
    name = filename or "the word-times file"
    suffix = Path(filename or "").suffix.lower()
    if suffix not in WORD_TIMES_SUFFIXES:
        raise ValueError(
            f"{name}: word times are read from a TextGrid (.TextGrid), CTM (.ctm) or CSV (.csv "
            "with word,start,end) file; choose one of those."
        )
    if not isinstance(contents, str) or "," not in contents:
        raise ValueError(f"{name} did not arrive as a file; choose it again.")
    header, encoded = contents.split(",", 1)
    if len(encoded) * 3 // 4 > MAX_WORDS_BYTES:
        raise ValueError(f"{name} is over {MAX_WORDS_BYTES // 1024} kB; is it a word-times file?")
    data = _payload(header, encoded, name)
    # The readers (praatio for TextGrids) read files: the upload goes to a private temporary
    # folder under a fixed name with the file's suffix, never under the name the browser sent.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"words{suffix}"
        path.write_bytes(data)
        try:
            return read_word_times(path)
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"{name}: {str(error).replace(str(path), 'the file')}") from None
