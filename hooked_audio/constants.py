"""Audio constants every model family here shares, in one place.

    SAMPLE_RATE    16000   samples per second of every waveform the models hear
    HOP_LENGTH     160     samples between two log-mel frames (10 ms)

Our own names say what a position is: 20 ms of audio, two 10 ms mel hops, 320 samples at
16 kHz (Whisper's and Qwen2-Audio's encoders after their stride-2 conv stem, wav2vec2's and
HuBERT's feature extractor). They equal openai-whisper's `whisper.audio` values and HF
transformers' feature extractors' defaults (tests/models/test_architecture.py checks both).
Whisper's own front end (its log-mel, its 30 s window) is in
`hooked_audio.models.whisper.front_end`, its vocabulary sizes in
`hooked_audio.models.whisper.vocabulary`.
"""

from __future__ import annotations

#: samples per second of every waveform the models hear
SAMPLE_RATE = 16000
#: samples between two log-mel frames (10 ms)
HOP_LENGTH = 160
#: log-mel frames per second (100)
MEL_FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH
#: log-mel frames per encoder position: the stride-2 conv stem turns two 10 ms hops into one
MEL_FRAMES_PER_POSITION = 2
#: samples per encoder position (320)
SAMPLES_PER_POSITION = HOP_LENGTH * MEL_FRAMES_PER_POSITION
#: seconds of audio per encoder position (0.02)
SECONDS_PER_POSITION = SAMPLES_PER_POSITION / SAMPLE_RATE

__all__ = [
    "HOP_LENGTH",
    "MEL_FRAMES_PER_POSITION",
    "MEL_FRAMES_PER_SECOND",
    "SAMPLES_PER_POSITION",
    "SAMPLE_RATE",
    "SECONDS_PER_POSITION",
]
