"""Audio side of `HookedWhisper`: `to_mel` and `to_frames` from paths, waveforms or batches."""

from __future__ import annotations

from typing import Optional

from jaxtyping import Float
from torch import Tensor
from whisper.audio import HOP_LENGTH, SAMPLE_RATE

from hooked_audio.audio import AudioLike, load_audio_batch, log_mel, mel_to_frames


class WhisperAudioMixin:
    """Needs `self.cfg.n_mels`, `self.cfg.n_audio_frames`, `self.device`, `self.W_E`."""

    @property
    def window_samples(self) -> int:
        """Samples in the encoder's window at 16 kHz (480000 = 30 s for released models)."""
        return 2 * self.cfg.n_audio_frames * HOP_LENGTH

    @property
    def window_seconds(self) -> float:
        return self.window_samples / SAMPLE_RATE

    def to_mel(
        self, audio: AudioLike, sample_rate: Optional[int] = None, chunk: bool = False
    ) -> Float[Tensor, "batch n_mels mel_frames"]:
        """Audio -> Whisper log-mel `[batch, n_mels, 2 * n_audio_ctx]`, padded to the window.

        `audio`: a path (wav, flac, ogg, mp3), a waveform (numpy or torch, with `sample_rate=`;
        resampled to 16 kHz, stereo averaged), or a list of those (a batch). Audio longer than
        the window is refused unless `chunk=True`, which splits it into consecutive windows
        along the batch axis.
        """
        waveforms = load_audio_batch(audio, sample_rate, target_rate=SAMPLE_RATE)
        mel = log_mel(waveforms, self.cfg.n_mels, n_samples=self.window_samples, chunk=chunk)
        return mel.to(device=self.device, dtype=self.W_E.dtype)

    def to_frames(
        self, audio: AudioLike, sample_rate: Optional[int] = None, chunk: bool = False
    ) -> Float[Tensor, "batch 2 n_mels pos"]:
        """Audio -> framed log-mel `[batch, 2, n_mels, pos]`: the last axis is the 20 ms encoder
        position (1500 for 30 s), each holding its two 10 ms mel columns. The layout whose
        `shape[-1]` TransformerLens's patching takes as the position count."""
        return mel_to_frames(self.to_mel(audio, sample_rate, chunk))
