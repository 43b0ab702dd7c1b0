"""A minimal pair's answer token from Whisper's own transcripts: greedy-decode both clips and
take the first token where they diverge (`hooked_audio.metrics.answers.PairAnswer`)."""

from __future__ import annotations

import torch
import whisper
from jaxtyping import Float
from torch import Tensor

from hooked_audio.metrics.answers import PairAnswer, first_difference
from hooked_audio.models.whisper.inference import greedy_options


def _one_mel(model, audio: Tensor, name: str) -> Float[Tensor, "n_mels mel_frames"]:
    mel = model.to_mel_input(audio)
    if mel.shape[0] != 1:
        raise ValueError(
            f"answer_from_transcripts takes one clip per audio; {name} has batch "
            f"{mel.shape[0]}. Find each pair's answer separately."
        )
    return mel[0]


def answer_from_transcripts(
    model,
    clean_audio: Float[Tensor, "1 n_mels mel_frames"] | Float[Tensor, "1 2 n_mels pos"],
    corrupt_audio: Float[Tensor, "1 n_mels mel_frames"] | Float[Tensor, "1 2 n_mels pos"],
) -> PairAnswer:
    """Greedy-decode both audios with openai-whisper's own decoder and return the first token
    where the transcripts differ, as a `PairAnswer` (tokens, position, correct, incorrect).

    `clean_audio` / `corrupt_audio`: log-mel `[1, n_mels, 3000]` (`model.to_mel`) or frames
    `[1, 2, n_mels, 1500]`. Decoding uses `whisper.decode` with `greedy_options(model)`
    (temperature 0, no timestamps, fp16 as the model's dtype, English for `.en` models or
    `model.language`, and `model.task`); the transcripts are compared with `<|endoftext|>`
    appended, so a transcript that stops early differs at its end. Whisper's logit filters
    (suppressed tokens) apply during decoding, so the correct token is the clean argmax among
    allowed tokens and `answer.metric()` is >= 0 on the clean
    logits. Raises ValueError when the transcripts are identical: the corruption did not change
    the output; pick another corruption, or a metric that does not need a changed answer
    (e.g. `KLDivergence` to the clean logits).
    """
    clean_mel = _one_mel(model, clean_audio, "clean_audio")
    corrupt_mel = _one_mel(model, corrupt_audio, "corrupt_audio")
    options = greedy_options(model)
    clean = whisper.decode(model, clean_mel, options)
    corrupt = whisper.decode(model, corrupt_mel, options)
    eot = model.tokenizer.eot
    clean_ids, corrupt_ids = list(clean.tokens) + [eot], list(corrupt.tokens) + [eot]
    index = first_difference(clean_ids, corrupt_ids)
    if index is None:
        raise ValueError(
            f"The clean and corrupt transcripts are identical ({clean.text!r}): the corruption did "
            "not change the output, so there is no answer token. Pick another corruption (longer, "
            "or over a different word), or a metric that does not need a changed answer, such as "
            "KLDivergence to the clean logits."
        )
    prefix = model.start_tokens() + clean_ids[:index]
    tokens = torch.tensor([prefix], dtype=torch.long, device=model.device)
    return PairAnswer(
        tokens=tokens,
        position=len(prefix) - 1,
        correct=clean_ids[index],
        incorrect=corrupt_ids[index],
        clean_text=clean.text,
        corrupt_text=corrupt.text,
    )
