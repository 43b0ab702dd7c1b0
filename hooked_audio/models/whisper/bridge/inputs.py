"""What a Whisper Bridge is called with, checked before TransformerBridge touches it.

TransformerBridge 4.3 treats an encoder-decoder model's input as encoder *tokens*: without
`decoder_input_ids` it builds them by shifting the input, which for a log-mel ends in a
concatenation error deep inside `TransformerBridge.forward`. `checked_forward` wraps a Whisper
bridge's `forward` so a missing decoder input, a waveform instead of a log-mel, the wrong mel
count or a NaN are named, with the fix, first.
"""

from __future__ import annotations

import functools
from typing import Any

import torch


def check_bridge_call(
    mel: Any, decoder_input_ids: Any, n_mels: int, n_mel_frames: int, has_labels: bool
) -> None:
    """Raise a `ValueError` naming what is wrong with `bridge(mel, decoder_input_ids=...)`."""
    if not isinstance(mel, torch.Tensor) or not mel.is_floating_point():
        raise ValueError(
            "A Whisper bridge takes the log-mel spectrogram [batch, n_mels, frames] as its "
            f"input (HF's input_features), not {type(mel).__name__}; make it with "
            "transformers.WhisperFeatureExtractor or hooked_audio's HookedWhisper.to_mel."
        )
    if mel.ndim != 3 or mel.shape[1] != n_mels or mel.shape[2] != n_mel_frames:
        raise ValueError(
            f"A Whisper bridge takes a log-mel of shape [batch, {n_mels}, {n_mel_frames}] "
            f"(n_mels, 30 s of 10 ms frames); got {tuple(mel.shape)}. A waveform must go "
            "through the feature extractor first; shorter audio is padded to 30 s."
        )
    if not torch.isfinite(mel).all():
        raise ValueError("The log-mel holds NaN or infinite values; check the audio it came from.")
    if has_labels and decoder_input_ids is None:
        return  # HF shifts the labels into the decoder input
    if (
        not isinstance(decoder_input_ids, torch.Tensor)
        or decoder_input_ids.is_floating_point()
        or decoder_input_ids.ndim != 2
        or decoder_input_ids.shape[0] != mel.shape[0]
    ):
        raise ValueError(
            "A Whisper bridge needs its decoder tokens as an integer tensor [batch, tokens] "
            "with the mel's batch size: bridge(mel, decoder_input_ids=tokens), e.g. "
            "[[sot, no_timestamps, ...]] from the model's tokenizer."
        )


def checked_forward(bridge: Any) -> None:
    """Wrap `bridge.forward` (once) with `check_bridge_call`."""
    forward = bridge.forward
    if getattr(forward, "_hooked_audio_checked", False):
        return
    config = bridge.original_model.config
    n_mel_frames = 2 * config.max_source_positions

    @functools.wraps(forward)
    def checked(input: Any = None, *args: Any, **kwargs: Any) -> Any:
        mel = kwargs.get("input_values", input) if input is None else input
        check_bridge_call(
            mel,
            kwargs.get("decoder_input_ids", kwargs.get("decoder_input")),
            config.num_mel_bins,
            n_mel_frames,
            has_labels=kwargs.get("labels") is not None,
        )
        return forward(input, *args, **kwargs)

    checked._hooked_audio_checked = True  # type: ignore[attr-defined]
    bridge.forward = checked
