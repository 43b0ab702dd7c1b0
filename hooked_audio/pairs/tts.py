"""Text to speech for minimal pairs, with word timings: espeak-ng, no system package needed.

The PyPI wheel `espeakng-loader` ships the espeak-ng shared library and its data; this module
drives it through ctypes (the library's C API is small and stable, and the Python bindings on
PyPI either need a system espeak-ng or are unmaintained). A system espeak-ng
(`libespeak-ng.so`) is the fallback.

Synthesis is not bit-reproducible: the same text can come out a few milliseconds longer or
shorter from one call to the next (seen here: 63773-63951 samples for a 4 s sentence).
Changing the pitch or a word moves timing too. When 20 ms frames must correspond, stretch
one onto the other word by word (`hooked_audio.pairs.word_alignment.word_align`, what the
pair builders do), warp it with `hooked_audio.corruptions.align_pair`, or build the corrupt
side from the clean audio with a duration-keeping transform (`pitch_shift`,
`formant_shift`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.pairs.speakable import check_text, words_from_events

_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: AUDIO_OUTPUT_SYNCHRONOUS
_POS_CHARACTER = 1
_EVENT_WORD = 1
_PARAMETERS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}


class _Event(ctypes.Structure):
    """`espeak_EVENT` from speak_lib.h."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Speech:
    """Synthesised speech at 16 kHz and its words' `(word, start_s, end_s)`; `speak` gives
    `audio` as an `Audio`, which carries `sample_rate`."""

    audio: np.ndarray
    words: list[tuple[str, float, float]]
    sample_rate: int = SAMPLE_RATE


class _Engine:
    """espeak-ng is process-global state: one engine, one synthesis at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib, data_dir = _load_library()
        self.lib.espeak_Initialize.restype = ctypes.c_int
        path = None if data_dir is None else str(data_dir).encode()
        self.rate = self.lib.espeak_Initialize(_SYNCHRONOUS, 0, path, 0)
        if self.rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise (no voice data found).")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, int, int]] = []
        self.callback = _Callback(self._collect)  # keep a reference: ctypes does not
        self.lib.espeak_SetSynthCallback(self.callback)

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != 0:
            if events[i].type == _EVENT_WORD:
                self.events.append((events[i].text_position, events[i].length, events[i].sample))
            i += 1
        return 0

    def synthesise(self, text: str, voice: str, params: dict[str, int]) -> tuple[np.ndarray, list]:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(
                    f"espeak-ng has no voice {voice!r}; try 'en-us', 'en' or "
                    "'en-us+f3' (a variant), see `espeak-ng --voices`."
                )
            for name, value in params.items():
                self.lib.espeak_SetParameter(_PARAMETERS[name], int(value), 0)
            self.chunks, self.events = [], []
            encoded = text.encode("utf-8")
            status = self.lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, 0, None, None
            )
            self.lib.espeak_Synchronize()
            if status != 0:
                raise ValueError(f"espeak-ng could not synthesise {text!r} (status {status}).")
            audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
            return audio.astype(np.float32) / 32768.0, list(self.events)


def _load_library() -> tuple[ctypes.CDLL, Path | None]:
    try:
        import espeakng_loader
    except ImportError:
        found = ctypes.util.find_library("espeak-ng")
        if found is None:
            raise ImportError(
                "Text to speech needs espeak-ng: `pip install espeakng-loader` "
                "(ships the library) or install the system package espeak-ng."
            ) from None
        return ctypes.CDLL(found), None
    return (
        ctypes.CDLL(espeakng_loader.get_library_path()),
        Path(espeakng_loader.get_data_path()).parent,
    )


_ENGINE: _Engine | None = None


def speak(
    text: str,
    voice: str = "en-us",
    rate: int = 160,
    pitch: int = 50,
    pitch_range: int = 50,
    sample_rate: int = SAMPLE_RATE,
    lead_s: float = 0.0,
) -> Speech:
    """Synthesise `text`; `rate` in words per minute, `pitch` and `pitch_range` 0-100.
    `lead_s` seconds of silence go before the speech (espeak-ng starts speaking at its
    first sample, and Whisper tends to drop a first word that starts right at 0 s).

    Text espeak-ng cannot speak word by word raises a ValueError naming the problem (no
    pronounceable word, symbols, letters the voice cannot read, a word with no word event;
    see `hooked_audio.pairs.speakable`). `words` has one entry per word of the text
    (whitespace-separated, punctuation around it stripped: "Americans," -> "Americans"),
    a number read as several words included; a word espeak-ng reads together with the one
    before it (one event for "on the") is joined to it ("on the"). Word times come from
    espeak-ng's own word events (the sample where each word starts); a word ends where the
    next starts, or where a silence of at least 50 ms before the next word begins (the
    pause after a comma, say), the last where the sound ends.
    """
    global _ENGINE
    text_words = check_text(text, voice)
    for name, value, low, high in (
        ("rate", rate, 80, 450),
        ("pitch", pitch, 0, 100),
        ("pitch_range", pitch_range, 0, 100),
    ):
        if not low <= value <= high:
            raise ValueError(f"{name}={value} is outside espeak-ng's range [{low}, {high}].")
    if not 0.0 <= lead_s <= 10.0:
        raise ValueError(f"lead_s={lead_s} must lie in [0, 10] seconds.")
    if _ENGINE is None:
        _ENGINE = _Engine()
    raw, events = _ENGINE.synthesise(
        text, voice, {"rate": rate, "pitch": pitch, "range": pitch_range}
    )
    if raw.size == 0 or not events or np.abs(raw).max() < 1e-3:
        raise ValueError(
            f"espeak-ng produced no speech for {text!r}; is it in the voice's "
            "language and made of pronounceable words?"
        )
    lead = int(round(lead_s * sample_rate))
    audio = np.concatenate(
        [
            np.zeros(lead, np.float32),
            soxr.resample(raw, _ENGINE.rate, sample_rate).astype(np.float32),
        ]
    )
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    sound_end = (loud[-1] + 1) / sample_rate if loud.size else len(audio) / sample_rate
    # espeak-ng reports 1-based character (code point) positions in the text
    starts = words_from_events(
        text,
        text_words,
        [
            (pos - 1, (lead + sample * sample_rate / _ENGINE.rate) / sample_rate)
            for pos, _, sample in events
        ],
    )
    hop = sample_rate // 100
    floor = np.sqrt(np.max(_frame_power(audio, hop))) * 10 ** (_SILENT_DB / 20)
    words = [
        (
            word,
            start,
            _sound_stops(audio, start, starts[i + 1][1], sample_rate, floor)
            if i + 1 < len(starts)
            else float(max(sound_end, start + 1 / sample_rate)),
        )
        for i, (word, start) in enumerate(starts)
    ]
    return Speech(audio=Audio(audio, sample_rate), words=words, sample_rate=sample_rate)


PAUSE_S = 0.05  # a silence at least this long ends a word before the next one starts
_SILENT_DB = -40.0  # 10 ms frames this far below the loudest frame count as silence


def _sound_stops(
    audio: np.ndarray, start_s: float, next_s: float, rate: int, floor: float
) -> float:
    """Where the sound stops before the next word: the start of a trailing silence (10 ms
    frames with RMS under `floor`) of at least `PAUSE_S` in `[start_s, next_s)`, else
    `next_s`."""
    hop = rate // 100
    first, last = int(round(start_s * rate)), int(round(next_s * rate))
    quiet = np.sqrt(_frame_power(audio[first:last], hop)) < floor
    n_quiet = int(np.argmin(quiet[::-1])) if not quiet.all() else quiet.size
    if n_quiet * hop < PAUSE_S * rate or n_quiet == quiet.size:
        return next_s
    return float((first + (quiet.size - n_quiet) * hop) / rate)


def _frame_power(x: np.ndarray, hop: int) -> np.ndarray:
    n = max(x.size // hop, 1)
    x = np.pad(x, (0, max(0, n * hop - x.size)))
    return np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)
