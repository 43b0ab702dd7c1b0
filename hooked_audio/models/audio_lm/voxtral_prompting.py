"""Voxtral's side of `prepare_inputs` and `check_processor`: HF's `VoxtralProcessor`, whose
tokenizer is mistral-common's (`MistralCommonBackend` over a Tekken file).

Two things set the audio of a Voxtral prompt, and both must fit the model:

- the Tekken file's audio config, read by mistral-common's chat encoding: it pads each clip to
  a whole number of windows (`chunk_length_s`) and writes `[BEGIN_AUDIO]` then one `[AUDIO]`
  per `sampling_rate / frame_rate` samples;
- the processor's feature extractor (Whisper's), which turns the padded clip into log-mel
  windows of `max_source_positions` frames, one row of `input_features` per window.

The processor's own window defaults (3000 mel frames, 480000 samples) are those of the released
checkpoints; `processor_kwargs` passes the model's window instead (the same numbers for the
released models), so a model with other windows is prepared correctly too.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import soundfile as sf

INSTALL_HINT = "pip install 'mistral-common[audio]'"


def audio_encoder_of(processor: Any) -> Any:
    """The mistral-common audio encoder behind a `VoxtralProcessor`'s tokenizer (its audio
    config and `[AUDIO]` / `[BEGIN_AUDIO]` ids), or a `ValueError` saying what is missing."""
    tokenizer = processor.tokenizer
    mistral = getattr(tokenizer, "tokenizer", None)
    instruct = getattr(mistral, "instruct_tokenizer", None)
    if instruct is None:
        if importlib.util.find_spec("mistral_common") is not None:
            fix = (
                "Load the processor from the checkpoint directory, which holds config.json "
                "and tekken.json (AutoProcessor.from_pretrained(<checkpoint>)), or build it "
                "with tokenizer=transformers.tokenization_mistral_common.MistralCommonBackend"
                "(<tekken.json>)."
            )
        else:
            fix = (
                f"Install mistral-common ({INSTALL_HINT}) and load the processor again "
                "(AutoProcessor.from_pretrained(<checkpoint>))."
            )
        raise ValueError(
            f"This VoxtralProcessor's tokenizer is a {type(tokenizer).__name__}; Voxtral's chat "
            "template and audio placeholders come from mistral-common's tokenizer "
            f"(MistralCommonBackend over the checkpoint's tekken.json). {fix}"
        )
    encoder = getattr(instruct, "audio_encoder", None)
    if encoder is None:
        raise ValueError(
            "The processor's Tekken tokenizer has no audio config, so it cannot place audio in a "
            "prompt. Use the tekken.json of the Voxtral checkpoint the weights came from."
        )
    return encoder


def check_voxtral_processor(cfg: Any, processor: Any) -> None:
    """`check_processor` for Voxtral: the feature extractor and the Tekken audio config make
    the model's mel bins and windows, and the `[AUDIO]` id is the model's `audio_token_id`."""
    encoder = audio_encoder_of(processor)
    audio, spectrogram = encoder.audio_config, encoder.audio_config.encoding_config
    features = processor.feature_extractor
    fix = "Use the processor of the checkpoint the weights came from."
    if features.feature_size != cfg.n_mels:
        raise ValueError(
            f"The processor's feature extractor makes {features.feature_size} mel "
            f"bins; this model takes {cfg.n_mels}. {fix}"
        )
    if spectrogram.num_mel_bins != cfg.n_mels:
        raise ValueError(
            f"The processor's Tekken audio config counts {spectrogram.num_mel_bins} "
            f"mel bins; this model takes {cfg.n_mels}. {fix}"
        )
    hop, rate = spectrogram.hop_length, audio.sampling_rate
    if hop != features.hop_length or rate != features.sampling_rate:
        raise ValueError(
            f"The processor's Tekken audio config (hop {hop}, {rate} Hz) and its feature "
            f"extractor (hop {features.hop_length}, {features.sampling_rate} Hz) disagree, so "
            f"placeholder counts would not match the mel frames. {fix}"
        )
    window = cfg.n_mel_frames * features.hop_length
    if not audio.chunk_length_s or audio.chunk_frames != window:
        chunk = (
            "no window" if not audio.chunk_length_s else f"windows of {audio.chunk_frames} samples"
        )
        raise ValueError(
            f"The processor's Tekken audio config pads clips to {chunk}; this model's audio tower "
            f"takes windows of {cfg.n_mel_frames} mel frames ({window} samples). {fix}"
        )
    per_window = audio.num_audio_tokens(window)
    if per_window != cfg.audio_tokens_per_window:
        raise ValueError(
            f"The processor's Tekken audio config writes {per_window} audio placeholders per "
            f"window (frame rate {audio.frame_rate} Hz); this model makes "
            f"{cfg.audio_tokens_per_window} audio embeddings per window. {fix}"
        )
    if encoder.audio_token != cfg.audio_token_id:
        raise ValueError(
            f"The processor's audio placeholder [AUDIO] has id {encoder.audio_token}; this model "
            f"puts audio at token id {cfg.audio_token_id}. The processor belongs to another "
            "checkpoint."
        )


def is_mistral_tokenizer(tokenizer: Any) -> bool:
    """A `MistralCommonBackend` (mistral-common's tokenizer behind HF's interface)."""
    return getattr(getattr(tokenizer, "tokenizer", None), "instruct_tokenizer", None) is not None


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of `text`, no BOS, special tokens written in it (`[INST]`, `[AUDIO]`) given
    their ids as HF tokenizers do. mistral-common itself never reads special tokens from text
    (it encodes `[INST]` as the characters), so the text is split at them first."""
    if not is_mistral_tokenizer(tokenizer):
        return tokenizer.encode(text, add_special_tokens=False)
    specials = sorted(tokenizer.all_special_tokens, key=len, reverse=True)
    ids: list[int] = []
    for piece in re.split("(" + "|".join(map(re.escape, specials)) + ")", text):
        if piece in specials:
            ids.append(int(tokenizer.convert_tokens_to_ids(piece)))
        elif piece:
            ids += tokenizer.encode(piece, add_special_tokens=False)
    return ids


def window_kwargs(cfg: Any, processor: Any) -> dict[str, int]:
    """The processor's audio kwargs that cut `input_features` into the model's windows."""
    hop = processor.feature_extractor.hop_length
    return dict(max_source_positions=cfg.n_mel_frames, pad_to_multiple_of=cfg.n_mel_frames * hop)


def wav_base64(clip: np.ndarray, sampling_rate: int) -> str:
    """A waveform as a base64 float32 WAV: lossless, so the processor hears exactly `clip`."""
    buffer = io.BytesIO()
    sf.write(
        buffer, np.asarray(clip, dtype=np.float32), sampling_rate, format="WAV", subtype="FLOAT"
    )
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def with_clips(
    chats: Sequence[Sequence[dict]], clips: list[np.ndarray], sampling_rate: int
) -> list[list[dict]]:
    """Copies of the chats whose audio items, in order, hold `clips` in the processor's format
    (`{"type": "audio", "base64": ...}`); other items and the messages' other keys unchanged."""
    remaining = iter(clips)
    out = []
    for chat in chats:
        messages = []
        for message in chat:
            content = message.get("content")
            if isinstance(content, (list, tuple)):
                content = [
                    {"type": "audio", "base64": wav_base64(next(remaining), sampling_rate)}
                    if isinstance(c, dict) and c.get("type") == "audio"
                    else c
                    for c in content
                ]
                message = {**message, "content": content}
            messages.append(message)
        out.append(messages)
    return out
