"""Logit lens over the audio and text positions of a `HookedAudioLM`. The per-layer accuracy
of this vocabulary projection over a dataset (the "layer information score") is in
`layer_score.py`.

The lens reads the residual stream entering every block (`blocks.{l}.hook_resid_pre`,
`l = 0..n_layers-1`) and the stream leaving the last one (`blocks.{n-1}.hook_resid_post`),
and sends each through the model's own `ln_final` (RMSNorm with its weight `w`) and `unembed`
(`W_U`, `b_U`): exactly what the model does to the last entry, so that entry *is* the model's
logits. Lens layer `l` is "the prediction if the model stopped before block `l`"; `l = 0` is the
embeddings (token embeddings, or the projector's audio embeddings at audio positions) and
`l = n_layers` the final stream. The same index is the layer of a `resid_pre` patch.

Memory: logits exist only for a chunk of (layer, position) rows at a time (`max_elements`
floats); what is kept is the top-k, the target tokens' log-probs and ranks and the entropy.
The full `[layers, pos, d_vocab]` log-probs are kept only with `full_vocab=True`.

    lens = logit_lens(model, inputs, positions="audio", targets=[answer_id])
    lens.plot(); lens.to_dataframe()

Pieces: `lens_positions.py` (which positions and row), `lens_tokens.py` (target tokens),
`lens_readout.py` (capturing the residual streams, projecting them onto the vocabulary; shared
with `layer_score.py`), `logit_lens_result.py` (the result, its dataframe and plot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from transformer_lens import ActivationCache

from hooked_audio.models.audio_lm.lens_positions import (
    PositionSpec,
    audio_seconds,
    pick_row,
    resolve_positions,
    row_of,
)
from hooked_audio.models.audio_lm.lens_readout import (
    DEFAULT_MAX_ELEMENTS,
    capture_residuals,
    check_layers,
    lens_hook_names,
    lens_labels,
    read_vocabulary,
    residuals_from_cache,
)
from hooked_audio.models.audio_lm.lens_tokens import TokenSpec, model_tokenizer, resolve_token
from hooked_audio.models.audio_lm.logit_lens_result import LogitLensResult


def _seq_len_of(cache_or_inputs: Any, n_layers: int) -> tuple[int, int]:
    if isinstance(cache_or_inputs, ActivationCache):
        x = cache_or_inputs[lens_hook_names(n_layers)[0]]
        return (x.shape[0], x.shape[1]) if cache_or_inputs.has_batch_dim else (1, x.shape[0])
    ids = cache_or_inputs["input_ids"]
    return (1, ids.shape[0]) if ids.ndim == 1 else (ids.shape[0], ids.shape[1])


def logit_lens(
    model: Any,
    cache_or_inputs: ActivationCache | Mapping[str, Any],
    positions: PositionSpec = "all",
    targets: TokenSpec | Sequence[TokenSpec] | None = None,
    top_k: int = 5,
    layers: Sequence[int] | None = None,
    row: int | None = None,
    input_ids: Tensor | None = None,
    attention_mask: Tensor | None = None,
    tokenizer: Any = None,
    full_vocab: bool = False,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> LogitLensResult:
    """The vocabulary projection `unembed(ln_final(resid))` of every lens layer at the chosen
    positions of one row.

    `cache_or_inputs`: the model's HF keyword inputs (run here, keeping only the residual
    streams at the chosen positions; hooks already on the model act) or an `ActivationCache`
    from `model.run_with_cache(...)` / `model.lm_stream(...).run_with_cache(input_ids)` (then
    pass `input_ids` for `"audio"` / `"text"` positions and audio times, and `attention_mask`
    to drop padding from `"all"`). `positions`: `"all"` (non-padding), `"audio"`, `"text"`, or
    indices. `targets`: token ids (or single-token strings, read with `tokenizer`, by default
    the attached processor's) whose probability
    and rank are kept. `layers`: a subset of `0..n_layers`. `row`: which batch row (needed when
    the batch has several). `full_vocab=True` also keeps `[layers, pos, d_vocab]` log-probs.
    """
    n_layers = model.cfg.n_layers
    layers = check_layers(layers, n_layers)
    is_cache = isinstance(cache_or_inputs, ActivationCache)
    if not is_cache:
        if not isinstance(cache_or_inputs, Mapping) or "input_ids" not in cache_or_inputs:
            raise TypeError(
                "cache_or_inputs must be an ActivationCache or the model's keyword "
                "inputs (a dict with input_ids, input_features, ...)."
            )
        input_ids = cache_or_inputs["input_ids"]
        attention_mask = cache_or_inputs.get("attention_mask")
    batch, seq_len = _seq_len_of(cache_or_inputs, n_layers)
    row = pick_row(batch, row)
    ids_row = row_of(input_ids, row)
    if ids_row is not None and ids_row.shape[0] != seq_len:
        raise ValueError(f"input_ids have {ids_row.shape[0]} positions, the cache {seq_len}.")
    audio = None if ids_row is None else model.audio_positions(ids_row[None])[0].cpu()
    valid = row_of(attention_mask, row)
    chosen = resolve_positions(positions, seq_len, audio, valid)
    target_ids = None
    if targets is not None:
        if isinstance(targets, (int, str)) or (isinstance(targets, Tensor) and targets.ndim == 0):
            targets = [targets]
        target_ids = [resolve_token(model, t, tokenizer) for t in targets]
        if not target_ids:
            raise ValueError("targets is empty.")
    names = [lens_hook_names(n_layers)[l] for l in layers]
    if is_cache:
        stack = residuals_from_cache(cache_or_inputs, names, row, chosen)
    else:
        stack = capture_residuals(model, cache_or_inputs, names, row, chosen)
    n_l, n_p, d_model = stack.shape
    read = read_vocabulary(
        model, stack.reshape(n_l * n_p, d_model), target_ids, top_k, full_vocab, max_elements
    )
    shape = lambda t: None if t is None else t.reshape(n_l, n_p, *t.shape[1:])  # noqa: E731
    is_audio = audio[chosen] if audio is not None else torch.zeros(len(chosen), dtype=torch.bool)
    spans = None if audio is None else audio_seconds(audio, model.config.seconds_per_audio_token)
    return LogitLensResult(
        layers=layers,
        labels=lens_labels(layers, n_layers),
        positions=chosen,
        is_audio=is_audio,
        seconds=[spans[p] for p in chosen] if spans is not None else [None] * len(chosen),
        top_ids=shape(read.top_ids),
        top_log_probs=shape(read.top_log_probs),
        entropy=shape(read.entropy),
        tokens=None if ids_row is None else ids_row[chosen].cpu(),
        target_ids=target_ids,
        target_log_probs=shape(read.target_log_probs),
        target_ranks=shape(read.target_ranks),
        log_probs=shape(read.log_probs),
        metadata={"row": row, "seconds_per_audio_token": model.config.seconds_per_audio_token},
        tokenizer=model_tokenizer(model, tokenizer),
    )
