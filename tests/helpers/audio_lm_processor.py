"""A tiny offline Qwen2-Audio processor that fits the tiny models of
`tests/helpers/audio_lm_models.py`.

Tokenizer: one token per character of a small alphabet (ids 0..71), `<unk>`, filler tokens up
to 96, then the chat and audio special tokens with `<|AUDIO|>` at id 100 (the tiny models'
audio token) in a vocabulary of 103 <= 120. Feature extractor: Whisper's, 16 mel bins, 1 s
windows at 16 kHz with a 12.5 ms hop, so 80 mel frames per window as the tiny towers take.
The chat template is Qwen2AudioProcessor's default one.
"""

from __future__ import annotations

import string

from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast, Qwen2AudioProcessor, WhisperFeatureExtractor

from tests.helpers.audio_lm_models import AUDIO_TOKEN, N_MELS

SPECIAL = {
    "<|endoftext|>": 97,
    "<|im_start|>": 98,
    "<|im_end|>": 99,
    "<|AUDIO|>": AUDIO_TOKEN,
    "<|audio_bos|>": 101,
    "<|audio_eos|>": 102,
}
SAMPLE_RATE = 16000
WINDOW_SAMPLES = 16000  # 1 s windows: 80 mel frames of 200 samples


def tiny_tokenizer(extra_tokens: int = 0) -> PreTrainedTokenizerFast:
    vocab = {c: i for i, c in enumerate(string.ascii_letters + string.digits + " \n.,?!:'-")}
    vocab["<unk>"] = len(vocab)
    vocab.update({f"<filler{i}>": i for i in range(len(vocab), min(SPECIAL.values()))})
    vocab.update(SPECIAL)
    vocab.update({f"<extra{i}>": 103 + i for i in range(extra_tokens)})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        additional_special_tokens=[t for t in SPECIAL if t != "<|endoftext|>"],
    )


def tiny_feature_extractor(
    feature_size: int = N_MELS, chunk_length: int = 1, hop_length: int = 200
) -> WhisperFeatureExtractor:
    return WhisperFeatureExtractor(
        feature_size=feature_size,
        sampling_rate=SAMPLE_RATE,
        hop_length=hop_length,
        chunk_length=chunk_length,
        n_fft=400,
    )


def timed_processor() -> Qwen2AudioProcessor:
    """The tiny processor with real time: 10 ms mel hops (160 samples, as Qwen2-Audio's), so
    each audio-tower position is 20 ms, in 3 s windows (300 mel frames: `STUDY_AUDIO_CTX`
    positions) that hold the bundled pairs (2.0-2.6 s). What a study needs."""
    return tiny_processor(chunk_length=3, hop_length=160)


def tiny_processor(**feature_kwargs) -> Qwen2AudioProcessor:
    return Qwen2AudioProcessor(
        feature_extractor=tiny_feature_extractor(**feature_kwargs), tokenizer=tiny_tokenizer()
    )
