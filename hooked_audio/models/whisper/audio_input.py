"""Audio side of `HookedWhisper`: `to_mel` and `to_frames` from paths, waveforms or batches."""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor

from hooked_audio.audio import AudioLike, load_audio_batch, mel_to_frames
from hooked_audio.constants import HOP_LENGTH, MEL_FRAMES_PER_POSITION, SAMPLE_RATE
from hooked_audio.models.whisper.front_end import log_mel


class WhisperAudioMixin:
    """Needs `self.config.n_mels`, `self.config.n_audio_frames`, `self.device`, `self.W_E`."""

    @property
    def window_samples(self) -> int:
        """Samples in the encoder's window at 16 kHz (480000 = 30 s for released models)."""
        return MEL_FRAMES_PER_POSITION * self.config.n_audio_frames * HOP_LENGTH

    @property
    def window_seconds(self) -> float:
        return self.window_samples / SAMPLE_RATE

    def to_mel(
        self, audio: AudioLike, sample_rate: int | None = None, chunk: bool = False
    ) -> Float[Tensor, "batch n_mels mel_frames"]:
        """Audio -> Whisper log-mel `[batch, n_mels, 2 * n_audio_ctx]`, padded to the window.

        `audio`: a path (wav, flac, ogg, mp3), a waveform, or a list of those (a batch).
        Waveforms are resampled to 16 kHz, stereo averaged. A `hooked_audio.audio.Audio`
        (what `load_audio`, the corruptions and `MinimalPair` give) carries its rate, so
        `sample_rate=` may be omitted (if given it must match); a plain numpy array or torch
        tensor needs `sample_rate=`. Audio longer than the window is refused unless
        `chunk=True`, which splits it into consecutive windows along the batch axis.
        """
        waveforms = load_audio_batch(audio, sample_rate, target_rate=SAMPLE_RATE)
        mel = log_mel(waveforms, self.config.n_mels, n_samples=self.window_samples, chunk=chunk)
        return mel.to(device=self.device, dtype=self.W_E.dtype)

    def to_frames(
        self, audio: AudioLike, sample_rate: int | None = None, chunk: bool = False
    ) -> Float[Tensor, "batch 2 n_mels pos"]:
        """Audio -> framed log-mel `[batch, 2, n_mels, pos]`: the last axis is the 20 ms encoder
        position (1500 for 30 s), each holding its two 10 ms mel columns. The layout whose
        `shape[-1]` TransformerLens's patching takes as the position count."""
        return mel_to_frames(self.to_mel(audio, sample_rate, chunk))
