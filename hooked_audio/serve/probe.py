"""`ClipProbe`: everything the probing page shows about one clip, computed from one teacher-forced
run of the model on its own transcript and kept, so that switching views costs nothing.

All times are seconds from the clip's start: encoder position p covers `[p, p + 1) * 0.02` s
(`SECONDS_PER_POSITION`), mel column c `[c, c + 1) * 0.01` s. Only the positions that hold the
clip's audio are kept (a 3 s clip: 150 of the window's 1500).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from hooked_audio.audio import Audio, load_audio
from hooked_audio.constants import SAMPLE_RATE, SECONDS_PER_POSITION
from hooked_audio.models.whisper.inference import transcribe_options
from hooked_audio.models.whisper.lens import decoder_lens, encoder_lens
from hooked_audio.models.whisper.word_timing import timed_words
from hooked_audio.word_times import WordTimes, check_word_times, check_words_match

#: what the page says of word times the model estimated (benchmarks/WORD_TIMING_RESULTS.md:
#: median start errors of 55-100 ms on the shipped recordings, tiny.en and base)
ESTIMATED_TIMES = (
    "estimated by the model, often 50-100 ms off on recorded speech; upload reference word "
    "times (TextGrid, CTM or CSV) for cells on the words as spoken"
)


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass
class ClipProbe:
    """One clip (at most one 30 s window) and the model's view of it (module docstring).

    `reference`: the clip's word times from a forced aligner or an annotator (checked against
    the clip and the transcript), used instead of the model's own; `reference_source` names them
    in `words_origin`, the sentence the page shows about where the times come from."""

    model: object
    audio: Audio
    reference: WordTimes | None = None
    reference_source: str = "reference word times"
    mel: np.ndarray = field(init=False)  # [n_mels, mel columns of the clip]
    text: str = field(init=False)
    words: list[Word] = field(init=False)
    words_origin: str = field(init=False)
    tokens: list[int] = field(init=False)  # start prefix + transcript + end of text
    token_strings: list[str] = field(init=False)
    n_positions: int = field(init=False)

    def __post_init__(self):
        model = self.model
        self.audio = load_audio(self.audio)
        seconds = len(self.audio) / SAMPLE_RATE
        if seconds > model.window_samples / SAMPLE_RATE:
            window = model.window_samples // SAMPLE_RATE
            raise ValueError(
                f"The clip is {seconds:.1f} s; the page probes one {window} s window. Cut the "
                "part you want to look at."
            )
        self.n_positions = max(1, math.ceil(seconds / SECONDS_PER_POSITION))
        mel = model.to_mel(self.audio)
        self._mel_input = mel
        self.mel = mel[0, :, : 2 * self.n_positions].numpy()
        words, self.text, origin = timed_words(
            model, np.asarray(self.audio), verbose=None, **transcribe_options(model)
        )
        if self.reference is None:
            self.words_origin = f"{origin}: {ESTIMATED_TIMES}"
        else:
            words = check_word_times(self.reference_source, self.reference, seconds)
            check_words_match([w for w, _, _ in words], self.text, self.reference_source)
            self.words_origin = f"{self.reference_source}, as given"
        self.words = [Word(word, start, end) for word, start, end in words]
        own = model.tokenizer.encode(" " + self.text) if self.text else []
        self.tokens = model.start_tokens() + own + [model.tokenizer.eot]
        self.token_strings = [model.tokenizer.decode([t]) for t in self.tokens]
        self._kept = self._keep_views(mel)
        self._lens = self._decoder_lens = None

    def _keep_views(self, mel) -> dict[str, torch.Tensor]:
        """One teacher-forced run; each hook the views read is cropped to the clip's positions
        as it is computed, so no full 30 s window of attention patterns is ever held."""
        n, kept = self.n_positions, {}

        def encoder_pattern(x, hook):
            kept[hook.name] = x[0, :, :n, :n].clone()

        def cross_pattern(x, hook):
            kept[hook.name] = x[0, :, :, :n].clone()

        def norm(x, hook):
            kept[hook.name] = x[0, :n].norm(dim=-1)

        dims = self.model.dims
        hooks = [
            (f"encoder.blocks.{l}.attn.hook_pattern", encoder_pattern)
            for l in range(dims.n_audio_layer)
        ]
        hooks += [(f"encoder.blocks.{l}.hook_resid_post", norm) for l in range(dims.n_audio_layer)]
        hooks += [
            (f"decoder.blocks.{l}.cross_attn.hook_pattern", cross_pattern)
            for l in range(dims.n_text_layer)
        ]
        with torch.no_grad(), self.model.hooks(fwd_hooks=hooks):
            self.model(mel, torch.tensor([self.tokens]))
        return kept

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def n_layers(self) -> int:
        return self.model.dims.n_audio_layer

    @property
    def n_heads(self) -> int:
        return self.model.dims.n_audio_head

    def position_seconds(self) -> np.ndarray:
        """The start of each kept encoder position, in seconds."""
        return np.arange(self.n_positions) * SECONDS_PER_POSITION

    def encoder_attention(self, layer: int, head: int) -> np.ndarray:
        """Encoder self-attention `[query position, key position]` over the clip's positions."""
        return self._kept[f"encoder.blocks.{layer}.attn.hook_pattern"][head].numpy()

    def cross_attention(self, layer: int, head: int) -> np.ndarray:
        """Decoder cross-attention `[token, encoder position]`: what each of the transcript's
        tokens (as input) reads from the clip."""
        return self._kept[f"decoder.blocks.{layer}.cross_attn.hook_pattern"][head].numpy()

    def activation_norms(self) -> np.ndarray:
        """The encoder's residual stream norm after each block, `[layer, position]`."""
        return np.stack(
            [
                self._kept[f"encoder.blocks.{layer}.hook_resid_post"].numpy()
                for layer in range(self.n_layers)
            ]
        )

    def decoder_lens(self):
        """The decoder logit lens on the transcript (`hooked_audio.models.whisper.lens`'s
        `decoder_lens`: per layer and token, the top token and the target's probability)."""
        if self._decoder_lens is None:
            self._decoder_lens = decoder_lens(self.model, self._mel_input, tokens=self.tokens)
        return self._decoder_lens

    def encoder_lens(self):
        """The encoder lens (`hooked_audio.models.whisper.lens.encoder_lens`), computed once."""
        if self._lens is None:
            self._lens = encoder_lens(self.model, self.audio)
        return self._lens

    def sae_features(self, sae, n: int = 16) -> tuple[list[int], np.ndarray]:
        """The `n` features of `sae` (spliced at the hook it was trained on, an encoder hook)
        most active over this clip, and their activations `[feature, position]`."""
        from hooked_audio.sae_splice import sae_hook_name

        hook = sae_hook_name(sae)
        if not hook.startswith("encoder."):
            raise ValueError(f"The page draws encoder SAEs over time; this one reads {hook!r}.")
        name = f"{hook}.hook_sae_acts_post"
        with torch.no_grad(), self.model.saes([sae], use_error_term=True):
            _, cache = self.model.run_with_cache(
                self._mel_input, torch.tensor([self.tokens[:1]]), names_filter=[name]
            )
        acts = cache[name][0, : self.n_positions].float()  # [position, d_sae]
        top = acts.sum(0).argsort(descending=True)[: min(n, acts.shape[1])]
        top = [int(f) for f in top if acts[:, f].sum() > 0]
        return top, acts[:, top].T.numpy()

    def snippet(self, start_s: float, end_s: float) -> Audio:
        """The clip's audio over `[start_s, end_s)` (clipped to the clip)."""
        start = max(0, int(round(start_s * SAMPLE_RATE)))
        end = min(len(self.audio), int(round(end_s * SAMPLE_RATE)))
        if end <= start:
            raise ValueError(f"The span {start_s:.2f}-{end_s:.2f} s holds none of the clip.")
        return Audio(np.asarray(self.audio[start:end]), SAMPLE_RATE)
