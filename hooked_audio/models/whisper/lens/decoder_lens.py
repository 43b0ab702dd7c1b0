"""Decoder logit lens of a `HookedWhisper`: each decoder layer read through `ln_final` and the
unembedding, at every token position of a teacher-forced transcript.

Layer -1 is the stream entering block 0 (token plus position embeddings), layer `l >= 0` the
stream after block `l` (`decoder.blocks.{l}.hook_resid_post`). TransformerLens's
`ActivationCache.accumulated_resid(apply_ln=True)` on the decoder stream view gives exactly
these streams passed through the model's own `ln_final` (weight and bias, statistics
recomputed for each layer), so the last layer's projection is the model's logits. The readout
is the raw vocabulary: no token is suppressed, unlike greedy decoding.

    lens = decoder_lens(model, "speech.flac")   # the model's own transcript as the tokens
    lens.summary(); lens.plot()
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from hooked_audio.models.whisper.lens.decoder_lens_result import DecoderLensResult
from hooked_audio.models.whisper.lens.decoding import greedy_decode, lens_options, window_mel
from hooked_audio.models.whisper.token_input import as_tokens


def own_transcript_tokens(model: Any, mel: Tensor) -> list[int]:
    """The start-of-transcript prefix, the model's greedy transcript and `<|endoftext|>`."""
    with torch.no_grad():
        features = model.encoder(mel)
    own = greedy_decode(model, features, lens_options(model))[0]
    return [*model.start_tokens(), *own.tokens, model.tokenizer.eot]


def decoder_lens(
    model: Any,
    audio: Any,
    tokens: Int[Tensor, "1 pos"] | list[int] | None = None,
    sample_rate: int | None = None,
) -> DecoderLensResult:
    """Project every decoder layer onto the vocabulary at each position of `tokens` (default:
    the model's own greedy transcript with its prefix and `<|endoftext|>`), for one window of
    `audio` (a path, a waveform, or a log-mel / framed log-mel of one window).

    The positions read are those that predict a token of the transcript: from the last token
    of the start-of-transcript prefix (when `tokens` begin with it) to the one before the last.
    """
    mel = window_mel(model, audio, sample_rate)
    if tokens is None:
        tokens = own_transcript_tokens(model, mel)
    tokens = as_tokens(tokens, model.device)
    if tokens.shape[0] != 1 or tokens.shape[1] < 2:
        raise ValueError(
            f"The decoder lens reads one sequence of at least two tokens; got shape "
            f"{tuple(tokens.shape)}."
        )
    prefix = model.start_tokens()
    first = len(prefix) - 1 if tokens[0, : len(prefix)].tolist() == prefix else 0
    n_layers = model.dims.n_text_layer
    names = [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)]
    names.append(f"blocks.{n_layers - 1}.hook_resid_post")
    stream = model.decoder_stream(mel)
    with torch.no_grad():
        _, cache = stream.run_with_cache(tokens, names_filter=names)
        normalised = cache.accumulated_resid(apply_ln=True)[:, 0, first:-1]
        logits = (
            normalised @ model.W_U.to(normalised.dtype) + model.b_U.to(normalised.dtype)
        ).float()
    targets = tokens[0, first + 1 :]
    index = targets[None, :, None].expand(logits.shape[0], -1, 1)
    target_logits = logits.gather(-1, index)
    top_ids = logits.argmax(dim=-1)
    decode = lambda ids: [model.tokenizer.decode([t]) for t in ids]
    return DecoderLensResult(
        layers=list(range(-1, n_layers)),
        hook_names=["decoder.blocks.0.hook_resid_pre"]
        + [f"decoder.blocks.{l}.hook_resid_post" for l in range(n_layers)],
        tokens=tokens[0].cpu(),
        positions=list(range(first, tokens.shape[1] - 1)),
        target_ids=targets.cpu(),
        target_strings=decode(targets.tolist()),
        top_ids=top_ids.cpu(),
        top_strings=[decode(row) for row in top_ids.tolist()],
        target_probs=torch.log_softmax(logits, dim=-1).gather(-1, index)[..., 0].exp().cpu(),
        target_ranks=(logits > target_logits).sum(dim=-1).cpu(),
    )
