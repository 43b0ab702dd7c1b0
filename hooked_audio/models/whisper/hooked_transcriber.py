"""`WhisperTranscriber`: greedy transcripts of one fixed clip set, again and again, each time
under other forward hooks (an ablation, a steering direction, a reading hook).

It is what an ablation study spends its time in, so it avoids repeated work: the clips' log-mel
is computed once, and so are the encoder's outputs, which a call reuses whenever none of its
hooks is on the encoder (ablating a decoder head cannot change them). openai-whisper's `decode`
accepts encoder outputs in place of log-mel and then skips the encoder. Clips are decoded in
batches of `batch_size`.

Batched greedy decoding runs every row until the last one ends: a row whose transcript has
ended is fed its end-of-text token again at every later step. Those positions belong to no
transcript, so a hook that reads activations (a reference pool) asks `live_positions` which of
a decoder hook's positions are a transcript's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import whisper

from hooked_audio.checks import check_count
from hooked_audio.models.whisper.inference import greedy_options

Hooks = Sequence[tuple[str, Callable[..., Any]]]


class WhisperTranscriber:
    """`transcriber(fwd_hooks)`: one transcript per clip of `audios` (greedy, no timestamps,
    openai-whisper's `decode`) with `fwd_hooks` (`[(hook name, fn)]`) active."""

    def __init__(self, model, audios: Sequence[Any], batch_size: int = 16):
        if not len(audios):
            raise ValueError("There are no clips to transcribe: the clip set is empty.")
        self.model = model
        self.batch_size = check_count(batch_size, "batch_size")
        self.mel = model.to_mel(list(audios))
        self._features: torch.Tensor | None = None
        names = set(model.hook_dict)
        self._encoder_hooks = {name for name in names if name.startswith("encoder.")}
        self._names = names
        self._eot = model.tokenizer.eot
        self._fed_tokens: torch.Tensor | None = None  # the decoder call in progress

    def __len__(self) -> int:
        return len(self.mel)

    def features(self) -> torch.Tensor:
        """The encoder's outputs of every clip without hooks, computed once."""
        if self._features is None:
            with torch.no_grad():
                self._features = torch.cat(
                    [self.model.encoder(chunk) for chunk in self.mel.split(self.batch_size)]
                )
        return self._features

    def __call__(self, fwd_hooks: Hooks = ()) -> list[str]:
        unknown = sorted({name for name, _ in fwd_hooks} - self._names)
        if unknown:
            raise ValueError(f"Unknown hook names {unknown}; see model.hook_dict for the names.")
        on_encoder = any(name in self._encoder_hooks for name, _ in fwd_hooks)
        inputs = self.mel if on_encoder else self.features()
        options = greedy_options(self.model)
        texts: list[str] = []
        watch = self.model.decoder.register_forward_pre_hook(self._watch_tokens)
        try:
            with torch.no_grad(), self.model.hooks(fwd_hooks=list(fwd_hooks)):
                for chunk in inputs.split(self.batch_size):
                    texts += [
                        result.text.strip() for result in whisper.decode(self.model, chunk, options)
                    ]
        finally:
            watch.remove()
            self._fed_tokens = None
        return texts

    def live_positions(self, hook_name: str) -> torch.Tensor | None:
        """Inside a call, for a hook on `hook_name` now running: which of its `[batch, pos]`
        positions belong to a transcript (False where a row that has already ended is fed its
        end-of-text token again); None where every position does (an encoder hook: each of the
        window's frames, the padding after a short clip included, as the model sees it)."""
        if hook_name in self._encoder_hooks or self._fed_tokens is None:
            return None
        return self._fed_tokens != self._eot

    def _watch_tokens(self, module: torch.nn.Module, args: tuple) -> None:
        # openai-whisper calls decoder(tokens, audio_features, kv_cache=...): after the prompt,
        # tokens are the one new token per row
        self._fed_tokens = torch.as_tensor(args[0])
