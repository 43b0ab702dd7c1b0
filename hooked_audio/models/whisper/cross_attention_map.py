"""One decoder cross-attention head over one clip, as tokens x time with the clip's words.

The clip's reference words are teacher-forced (as `head_timing` reads heads: `" " + word`
after the start-of-transcript prefix), and the head's pattern is kept over the 20 ms positions
that hold the clip; the padding of the 30 s window is cut off (heads park weight there, so a
row's weights over the clip sum to at most 1). `CrossAttentionMap.plot` draws it under the
clip's log-mel with the words marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.whisper.head_timing import teacher_forced_words
from hooked_audio.patching.time_cells import speech_frames
from hooked_audio.word_times import WordTimes
from hooked_audio.word_times.timed_clip import TimedClip


@dataclass
class CrossAttentionMap:
    """Head `head` of decoder layer `layer` on clip `clip`: `pattern[q, p]` is the weight query
    `q` (token `query_tokens[q]`) gives audio position `p`, over the clip's positions only.
    `first_token[i]` is the query position of word `i`'s first token. `mel` is the log-mel the
    encoder saw, cut to the clip."""

    clip: str
    layer: int
    head: int
    pattern: Float[Tensor, "query position"]
    query_tokens: list[str]
    first_token: list[int]
    words: WordTimes
    seconds_per_position: float
    mel: Float[Tensor, "n_mels mel_frames"]

    def plot(self, spectrogram: bool = True, title: str | None = None, ax=None):
        """The pattern under the clip's log-mel (`spectrogram=False`: alone), words marked on
        the time axis; returns `hooked_audio.plots.cross_attention.CrossAttentionPlot`."""
        from hooked_audio.plots.cross_attention import plot_cross_attention

        return plot_cross_attention(
            self.pattern,
            self.query_tokens,
            self.words,
            self.seconds_per_position,
            spectrogram=self.mel if spectrogram else None,
            title=title
            or f"{self.clip}: cross-attention of decoder layer {self.layer}, head {self.head}",
            ax=ax,
        )


def cross_attention_map(model, clip: TimedClip, layer: int, head: int) -> CrossAttentionMap:
    """The cross-attention of decoder `layer`, `head` of `model` on `clip` with its reference
    words teacher-forced (see the module docstring)."""
    n_layers, n_heads = model.dims.n_text_layer, model.dims.n_text_head
    if not (isinstance(layer, int) and 0 <= layer < n_layers):
        raise ValueError(f"layer must be a decoder layer, 0 to {n_layers - 1}; got {layer!r}.")
    if not (isinstance(head, int) and 0 <= head < n_heads):
        raise ValueError(f"head must be 0 to {n_heads - 1} (heads per layer); got {head!r}.")
    tokens, first = teacher_forced_words(model, clip)
    seconds_per_position = model.window_seconds / model.dims.n_audio_ctx
    n_speech = len(
        speech_frames(len(clip.audio) / SAMPLE_RATE, model.dims.n_audio_ctx, seconds_per_position)
    )
    name = f"decoder.blocks.{layer}.cross_attn.hook_pattern"
    mel = model.to_mel(clip.audio)
    with torch.no_grad():
        _, cache = model.run_with_cache(
            mel, torch.tensor([tokens], device=model.device), names_filter=[name]
        )
    return CrossAttentionMap(
        clip=clip.name,
        layer=layer,
        head=head,
        pattern=cache[name][0, head, :, :n_speech].float().cpu(),
        query_tokens=model.to_str_tokens(torch.tensor(tokens)),
        first_token=first,
        words=clip.words,
        seconds_per_position=seconds_per_position,
        mel=mel[0, :, : 2 * n_speech].float().cpu(),
    )
