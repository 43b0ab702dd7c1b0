"""Encoder lens of a `HookedWhisper`: what the decoder makes of each encoder layer.

For every encoder layer `l`, the residual stream after block `l`
(`encoder.blocks.{l}.hook_resid_post`; layer -1 is the stream entering block 0,
`encoder.blocks.0.hook_resid_pre`, the conv stem plus positions) goes through the encoder's
final LayerNorm (`encoder.ln_post`) and is handed to the decoder as if it were the encoder's
output. Per layer it reports

- the transcript openai-whisper's greedy decoding produces from it: `whisper.decode` is given
  the lensed features themselves, which it takes as audio features and decodes without running
  the encoder (`DecodingTask._get_audio_features`), so no hook is needed;
- teacher-forced on the model's own transcript (ending with `<|endoftext|>`): the fraction of
  its tokens that are the greedy choice at their position, and their mean log-prob. The greedy
  choice is the argmax after openai-whisper's logit filters (suppressed special tokens, a blank
  at the first position), and the log-probs are those of the filtered distribution, as in
  openai-whisper's `avg_logprob`.

Exact at the last layer: the encoder's forward ends with `ln_post` applied to the stream after
its last block, so the last layer's lensed features are the encoder's output bit for bit, and
decoding them is the model's own decoding, token for token (accuracy 1). Hooks already on the
model act, on the encoder run that is read and on every decoder run.

    lens = encoder_lens(model, "speech.flac")
    lens.to_dataframe(); lens.plot()
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.models.whisper.lens.decoding import (
    greedy_decode,
    lens_options,
    teacher_forced,
    window_mel,
)
from hooked_audio.models.whisper.lens.encoder_lens_result import EncoderLensResult, EncoderLensRow

#: lensed features decoded together (each row is `[n_audio_ctx, d_model]`)
DECODE_BATCH = 8


def encoder_lens_hooks(n_layers: int, include_embed: bool = True) -> list[tuple[int, str]]:
    """`(layer, hook name)` of every stream the encoder lens reads, shallow to deep."""
    hooks = [(-1, "encoder.blocks.0.hook_resid_pre")] if include_embed else []
    return hooks + [(l, f"encoder.blocks.{l}.hook_resid_post") for l in range(n_layers)]


def lensed_features(
    model: Any, mel: Float[Tensor, "1 n_mels mel_frames"], hook_names: list[str]
) -> list[Float[Tensor, "1 audio_pos d_model"]]:
    """`ln_post` of each named encoder stream, from one encoder run."""
    streams: dict[str, Tensor] = {}

    def keep(activation: Tensor, hook) -> None:
        streams[hook.name] = activation.detach()

    with torch.no_grad():
        with model.hooks(fwd_hooks=[(name, keep) for name in hook_names]):
            model.encoder(mel)
        return [model.encoder.ln_post(streams[name]) for name in hook_names]


def default_max_tokens(model: Any, n_own_tokens: int) -> int:
    """Twice the model's own transcript plus 10 tokens, within openai-whisper's limit."""
    return min(2 * n_own_tokens + 10, model.dims.n_text_ctx // 2)


def encoder_lens(
    model: Any,
    audio: Any,
    sample_rate: int | None = None,
    include_embed: bool = True,
    max_tokens: int | None = None,
) -> EncoderLensResult:
    """Read every encoder layer of `model` (a `HookedWhisper`) through `ln_post` and the
    decoder, on one window of audio.

    `audio`: a path, a waveform (`sample_rate=` unless it is an `Audio`), or a log-mel
    `[1, n_mels, frames]` / framed log-mel of one window. `include_embed` adds layer -1 (the
    stream entering block 0). `max_tokens` bounds the lensed transcripts of the layers below
    the last (default: twice the model's own plus 10; shallow layers often repeat a token until
    the bound); the last layer is decoded with openai-whisper's defaults, as the model is.
    """
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}.")
    mel = window_mel(model, audio, sample_rate)
    hooks = encoder_lens_hooks(model.dims.n_audio_layer, include_embed)
    features = lensed_features(model, mel, [name for _, name in hooks])
    options = lens_options(model)
    own = greedy_decode(model, features[-1], options)[0]
    targets = [*own.tokens, model.tokenizer.eot]
    limit = max_tokens or default_max_tokens(model, len(own.tokens))
    shallow_options = lens_options(model, limit)
    decoded = []
    for start in range(0, len(features) - 1, DECODE_BATCH):
        batch = torch.cat(features[start : min(start + DECODE_BATCH, len(features) - 1)])
        decoded += greedy_decode(model, batch, shallow_options)
    decoded.append(own)
    with torch.no_grad():
        scores = [teacher_forced(model, f, targets, options) for f in features]
    target_ids = torch.tensor(targets)
    correct = torch.stack([s.predicted == target_ids for s in scores])
    log_probs = torch.stack([s.log_probs for s in scores])
    rows = []
    own_limit = model.dims.n_text_ctx // 2
    for i, ((layer, name), result) in enumerate(zip(hooks, decoded)):
        cap = own_limit if i == len(hooks) - 1 else limit
        rows.append(
            EncoderLensRow(
                layer=layer,
                label="embed" if layer < 0 else str(layer),
                hook_name=name,
                text=result.text,
                tokens=list(result.tokens),
                reached_max_tokens=len(result.tokens) >= cap,
                accuracy=float(correct[i].float().mean()),
                n_correct=int(correct[i].sum()),
                n_targets=len(targets),
                mean_log_prob=float(log_probs[i].mean()),
            )
        )
    return EncoderLensResult(
        rows=rows,
        text=own.text,
        target_tokens=targets,
        target_strings=[model.tokenizer.decode([t]) for t in targets],
        correct=correct,
        target_log_probs=log_probs,
        metadata={"max_tokens": limit, "avg_logprob": own.avg_logprob},
    )
