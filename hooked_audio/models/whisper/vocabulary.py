"""Facts of Whisper's vocabulary that openai-whisper computes inline."""

from __future__ import annotations

#: openai-whisper's rule (`Whisper.is_multilingual`): multilingual vocabularies have 51865+
#: tokens
MULTILINGUAL_VOCAB_SIZE = 51865
#: the tokens of Whisper's vocabulary that are not language tokens: openai-whisper's
#: `Whisper.num_languages` is `n_vocab - 51765 - is_multilingual`
NON_LANGUAGE_VOCAB_SIZE = 51765
