"""Word times of a clip when no reference is given: openai-whisper's word timestamps (DTW over
cross-attention) over the heads that time recorded speech best.

OpenAI's alignment heads for tiny.en and base were chosen on its own data; on the shipped
recordings (`hooked_audio.recordings`) they put word starts a median 90-110 ms from the forced
alignments. `hooked_audio.models.whisper.alignment_heads.find_alignment_heads` (ranked on
`acoustic_corpus`, the set size chosen on `cold_corpus`, at most 10 heads) finds sets that do
better on the recordings held out from that search; `benchmarks/word_timing_benchmark.py`
measures both (benchmarks/WORD_TIMING_RESULTS.md) and `tests/models/whisper/test_word_timing.py`
checks that the search still finds the sets below. They are used for word timing only: the
model's `alignment_heads` (what openai-whisper's own `transcribe` reads) stay OpenAI's.

A model is recognised by `weights_fingerprint` (the signs of a corner of its token embedding:
the same for the float16 and float32 copies of one checkpoint, different between checkpoints);
any other model keeps its own heads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import whisper

from hooked_audio.constants import SAMPLE_RATE, SECONDS_PER_POSITION
from hooked_audio.models.whisper.alignment_heads import Heads, current_heads, using_heads

#: weights fingerprint -> (model, heads found on recorded speech)
RECORDED_SPEECH_HEADS: dict[str, tuple[str, Heads]] = {
    "3c97ff5b2dc464c6": (
        "tiny.en",
        [(2, 1), (1, 5), (2, 4), (3, 3), (3, 2), (2, 5), (1, 2), (3, 4), (2, 0), (3, 0)],
    ),
    "b8a45578f45c3e5c": (
        "base",
        [(4, 2), (3, 1), (5, 1), (4, 7), (5, 6), (5, 4), (5, 7), (5, 3), (3, 3)],
    ),
}

WordList = list[tuple[str, float, float]]


@contextmanager
def reusing_audio_features(model) -> Iterator[None]:
    """Inside the block, the encoder runs once per distinct log-mel: a call on a log-mel equal to
    the last one returns the last output.

    openai-whisper's word timing (`find_alignment`) runs the whole model on the window it has
    just decoded, so without this every window is encoded twice. The repeated call returns the
    very tensor the first produced (nothing is approximated), and its hooks do not fire a second
    time; the block is for transcription, not for hooked runs."""
    encoder = model.encoder
    last: dict[str, torch.Tensor] = {}

    def forward(mel: torch.Tensor) -> torch.Tensor:
        seen = last.get("mel")
        if seen is not None and seen.shape == mel.shape and torch.equal(seen, mel):
            return last["features"]
        features = type(encoder).forward(encoder, mel)
        last.update(mel=mel.detach().clone(), features=features)
        return features

    encoder.forward = forward  # an instance attribute shadows the class's forward
    try:
        yield
    finally:
        del encoder.forward


#: how `timed_words` names its times (`meta["word_times"]` of a pair it timed starts with it):
#: the model's estimate, 50-100 ms off on recordings (docs/word_times.md)
ESTIMATED_ORIGIN = "openai-whisper's word timestamps"


def weights_fingerprint(model) -> str:
    """16 hex digits from the signs of the first 16 x 64 token embedding weights."""
    corner = model.W_E[:16, :64].detach().float().cpu().numpy() > 0
    return hashlib.sha1(np.packbits(corner).tobytes()).hexdigest()[:16]


def timing_heads(model) -> tuple[Heads, str]:
    """The heads word timing uses on `model`, and a phrase saying which they are."""
    found = RECORDED_SPEECH_HEADS.get(weights_fingerprint(model))
    if found is None:
        return current_heads(model), "the model's alignment heads"
    name, heads = found
    return list(
        heads
    ), f"the {len(heads)} cross-attention heads found on recorded speech for {name}"


def timed_words(
    model, audio, heads: Heads | None = None, **transcribe_options
) -> tuple[WordList, str, str]:
    """`(words, text, origin)`: openai-whisper's transcript of `audio` and its word timestamps
    over `heads` (default: `timing_heads`), each word at least one 20 ms position long and inside
    the clip, and a sentence saying where the times come from."""
    if heads is None:
        heads, which = timing_heads(model)
    else:
        which = f"the heads {heads}"
    with using_heads(model, heads), reusing_audio_features(model), torch.no_grad():
        result = whisper.transcribe(model, audio, word_timestamps=True, **transcribe_options)
    seconds = len(audio) / SAMPLE_RATE
    words = []
    for segment in result["segments"]:
        for word in segment.get("words", []):
            start = min(float(word["start"]), seconds - SECONDS_PER_POSITION)
            end = min(max(float(word["end"]), start + SECONDS_PER_POSITION), seconds)
            words.append((word["word"].strip(), start, end))
    origin = f"{ESTIMATED_ORIGIN} (DTW over {which})"
    return words, result["text"].strip(), origin
