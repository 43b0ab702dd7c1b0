"""A tiny random wav2vec2 CTC checkpoint folder with an English character vocabulary, as a
study loads it (`config.json`, weights, `vocab.json`)."""

from __future__ import annotations

import json
import string
from pathlib import Path

from transformers import Wav2Vec2CTCTokenizer

from tests.helpers.audio_encoder_models import random_hf

#: the special tokens of a wav2vec2 character vocabulary, then `|` (the word delimiter), the
#: upper-case letters and the apostrophe: the layout of the English LibriSpeech checkpoints
CHARACTERS = ["<pad>", "<s>", "</s>", "<unk>", "|", *string.ascii_uppercase, "'"]


def ctc_vocabulary(folder: Path) -> Wav2Vec2CTCTokenizer:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(CHARACTERS)}))
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"))
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def ctc_checkpoint(folder: Path, seed: int = 0, with_vocabulary: bool = True) -> Path:
    """A random `Wav2Vec2ForCTC` (width 32, 2 layers, 4 heads) saved in `folder`."""
    hf_model = random_hf("wav2vec2", ctc=True, seed=seed, vocab_size=len(CHARACTERS))
    hf_model.config.pad_token_id = 0
    hf_model.save_pretrained(str(folder))
    if with_vocabulary:
        ctc_vocabulary(folder)
    return folder
