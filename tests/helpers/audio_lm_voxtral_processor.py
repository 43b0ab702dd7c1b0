"""A tiny offline Voxtral processor (HF `VoxtralProcessor`: mistral-common's Tekken tokenizer
and Whisper's feature extractor) that fits the tiny Voxtral of `tests/helpers/audio_lm_models.py`
when that is built with `voxtral_hf(vocab_size=VOCAB, audio_token_id=AUDIO_ID)`.

Tekken file, written by `write_tekken`: the 256 single bytes, a few merges and 40 special tokens
(version v11), `[AUDIO]` at id 24 as in the released tokenizers (`VoxtralProcessor` assumes 24).
Audio config: 16 kHz, 16 mel bins, hop 200, windows of 1 s (80 mel frames) and one `[AUDIO]`
per 1600 samples (8 mel frames), so 10 placeholders per window, as the tiny model makes 10
audio embeddings per window (40 tower positions, 4 stacked). Feature extractor: the one of
`tests/helpers/audio_lm_processor.py`. Needs `mistral-common[audio]`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.helpers.audio_lm_models import N_MELS
from tests.helpers.audio_lm_processor import SAMPLE_RATE, tiny_feature_extractor

AUDIO_ID = 24
N_SPECIAL = 40
MERGES = [b" t", b"he", b"in", b" a", b"er", b"on", b" w", b"is", b" the"]
VOCAB = 320  # the tiny model's: >= 256 bytes + merges + specials (305)
SPECIAL_NAMES = [
    "<unk>",
    "<s>",
    "</s>",
    "[INST]",
    "[/INST]",
    "[AVAILABLE_TOOLS]",
    "[/AVAILABLE_TOOLS]",
    "[TOOL_RESULTS]",
    "[/TOOL_RESULTS]",
    "[TOOL_CALLS]",
    "[IMG]",
    "<pad>",
    "[IMG_BREAK]",
    "[IMG_END]",
    "[PREFIX]",
    "[MIDDLE]",
    "[SUFFIX]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "[TOOL_CONTENT]",
]
LATER_SPECIALS = {25: "[BEGIN_AUDIO]", 32: "[ARGS]", 33: "[CALL_ID]", 34: "[TRANSCRIBE]"}


def write_tekken(
    directory: Path,
    n_mels: int = N_MELS,
    hop_length: int = 200,
    frame_rate: float = 10.0,
    chunk_length_s: float | None = 1.0,
    audio_id: int = AUDIO_ID,
    with_audio: bool = True,
) -> Path:
    """Write `tekken.json` into `directory` and return its path; `with_audio=False` leaves
    out the audio config (a text-only Tekken file)."""
    named = dict(enumerate(SPECIAL_NAMES)) | LATER_SPECIALS | {audio_id: "[AUDIO]"}
    specials = [
        dict(rank=i, token_str=named.get(i, f"<SPECIAL_{i}>"), is_control=True)
        for i in range(max(named) + 1)
    ]
    pieces = [bytes([i]) for i in range(256)] + MERGES
    vocab = [
        dict(
            rank=i,
            token_bytes=base64.b64encode(p).decode(),
            token_str=p.decode() if i >= 256 else None,
        )
        for i, p in enumerate(pieces)
    ]
    audio = dict(
        sampling_rate=SAMPLE_RATE,
        frame_rate=frame_rate,
        audio_encoding_config=dict(num_mel_bins=n_mels, hop_length=hop_length, window_size=400),
    )
    if chunk_length_s is not None:
        audio["chunk_length_s"] = chunk_length_s
    data = dict(
        config=dict(
            pattern=r" ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+",
            num_vocab_tokens=len(vocab),
            default_vocab_size=len(vocab) + N_SPECIAL,
            default_num_special_tokens=N_SPECIAL,
            version="v11",
        ),
        vocab=vocab,
        special_tokens=specials,
        version=1,
        type="Tekken",
    )
    if with_audio:
        data["audio"] = audio
    path = Path(directory) / "tekken.json"
    path.write_text(json.dumps(data))
    return path


def tiny_voxtral_processor(directory: Path, feature_size: int = N_MELS, **tekken_kwargs):
    """A `VoxtralProcessor` over a Tekken file written into `directory` (see `write_tekken`
    for `tekken_kwargs`) and the tiny Whisper feature extractor."""
    from transformers import VoxtralProcessor
    from transformers.tokenization_mistral_common import MistralCommonBackend

    tokenizer = MistralCommonBackend(write_tekken(directory, **tekken_kwargs))
    return VoxtralProcessor(
        feature_extractor=tiny_feature_extractor(feature_size=feature_size), tokenizer=tokenizer
    )
