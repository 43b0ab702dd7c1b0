"""Whisper's audio and vocabulary constants, in one place.

Re-exported from openai-whisper (`whisper.audio`), so that this library's log-mel, frames and
windows match the reference exactly:

    SAMPLE_RATE    16000   samples per second of every waveform the models hear
    HOP_LENGTH     160     samples between two log-mel frames (10 ms)
    N_FFT          400     samples of the STFT window behind one log-mel frame (25 ms)

Our own names say what an encoder position is: 20 ms of audio, two 10 ms mel hops, 320
samples at 16 kHz; a window of Whisper's encoder is 30 s, 3000 mel frames, 1500 positions.
"""

from __future__ import annotations

from whisper.audio import (
    CHUNK_LENGTH,
    FRAMES_PER_SECOND,
    HOP_LENGTH,
    N_FFT,
    N_FRAMES,
    N_SAMPLES,
    N_SAMPLES_PER_TOKEN,
    SAMPLE_RATE,
)

#: log-mel frames per second (100)
MEL_FRAMES_PER_SECOND = FRAMES_PER_SECOND
#: log-mel frames per encoder position: the stride-2 conv stem turns two 10 ms hops into one
MEL_FRAMES_PER_POSITION = 2
#: samples per encoder position (320)
SAMPLES_PER_POSITION = N_SAMPLES_PER_TOKEN
#: seconds of audio per encoder position (0.02)
SECONDS_PER_POSITION = N_SAMPLES_PER_TOKEN / SAMPLE_RATE
#: seconds in one window of Whisper's encoder (30)
WINDOW_SECONDS = CHUNK_LENGTH
#: samples in one window (480000)
WINDOW_SAMPLES = N_SAMPLES
#: log-mel frames in one window (3000)
WINDOW_MEL_FRAMES = N_FRAMES
#: encoder positions in one window (1500)
WINDOW_POSITIONS = N_FRAMES // MEL_FRAMES_PER_POSITION

#: openai-whisper's rule (`Whisper.is_multilingual`): multilingual vocabularies have 51865+
#: tokens
MULTILINGUAL_VOCAB_SIZE = 51865
#: the tokens of Whisper's vocabulary that are not language tokens: openai-whisper's
#: `Whisper.num_languages` is `n_vocab - 51765 - is_multilingual`
NON_LANGUAGE_VOCAB_SIZE = 51765

__all__ = [
    "HOP_LENGTH",
    "MEL_FRAMES_PER_POSITION",
    "MEL_FRAMES_PER_SECOND",
    "MULTILINGUAL_VOCAB_SIZE",
    "NON_LANGUAGE_VOCAB_SIZE",
    "N_FFT",
    "SAMPLES_PER_POSITION",
    "SAMPLE_RATE",
    "SECONDS_PER_POSITION",
    "WINDOW_MEL_FRAMES",
    "WINDOW_POSITIONS",
    "WINDOW_SAMPLES",
    "WINDOW_SECONDS",
]
