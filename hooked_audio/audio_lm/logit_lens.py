"""Logit lens over the audio and text positions of a `HookedAudioLM`, and the per-layer
accuracy of that vocabulary projection over a dataset (the "layer information score").

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
    score = layer_information_score(model, [(inputs, [id_a, id_b], id_a), ...])
    score.plot(); score.to_dataframe()
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens import ActivationCache

PositionSpec = Union[str, int, Sequence[int], Tensor, None]
TokenSpec = Union[int, str, Sequence[int]]

DEFAULT_MAX_ELEMENTS = 2 ** 25  # logits held at once: 128 MiB in float32


# ----------------------------------------------------------------------------- helpers
def lens_hook_names(n_layers: int) -> list[str]:
    """The residual-stream hooks the lens reads, one per lens layer `0..n_layers`."""
    return ([f"blocks.{l}.hook_resid_pre" for l in range(n_layers)]
            + [f"blocks.{n_layers - 1}.hook_resid_post"])


def lens_labels(layers: Sequence[int], n_layers: int) -> list[str]:
    """TransformerLens's `accumulated_resid` labels: `"{l}_pre"`, and `"final_post"`."""
    return ["final_post" if l == n_layers else f"{l}_pre" for l in layers]


def _check_layers(layers: Optional[Sequence[int]], n_layers: int) -> list[int]:
    if layers is None:
        return list(range(n_layers + 1))
    layers = [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l <= n_layers]
    if bad or not layers:
        raise ValueError(f"Lens layers are 0..{n_layers} (0 = embeddings, {n_layers} = the final "
                         f"residual stream); got {bad or 'none'}.")
    return layers


def resolve_positions(positions: PositionSpec, seq_len: int,
                      audio: Optional[Bool[Tensor, "pos"]] = None,
                      valid: Optional[Bool[Tensor, "pos"]] = None) -> list[int]:
    """Absolute position indices. `"all"` / None: every non-padding position; `"audio"` /
    `"text"`: the audio placeholders / the other non-padding positions; an int or a list of
    ints (negative ones count from the end): those positions."""
    valid = torch.ones(seq_len, dtype=torch.bool) if valid is None else valid.bool().cpu()
    if positions is None or (isinstance(positions, str) and positions == "all"):
        chosen = valid
    elif isinstance(positions, str):
        if positions not in ("audio", "text"):
            raise ValueError(f"positions must be 'audio', 'text', 'all' or position indices; got "
                             f"{positions!r}.")
        if audio is None:
            raise ValueError(f"positions={positions!r} needs the prompt's input_ids to find the "
                             "audio placeholders: pass input_ids= together with a cache.")
        audio = audio.bool().cpu()
        chosen = (audio if positions == "audio" else ~audio) & valid
        if not chosen.any():
            raise ValueError(f"The sequence has no {positions} positions.")
    else:
        if isinstance(positions, Tensor):
            positions = positions.reshape(-1).tolist()
        elif isinstance(positions, int):
            positions = [positions]
        out = []
        for p in positions:
            p = int(p)
            if not -seq_len <= p < seq_len:
                raise ValueError(f"Position {p} is outside the sequence of {seq_len} positions "
                                 f"(valid: {-seq_len}..{seq_len - 1}).")
            out.append(p % seq_len)
        if not out:
            raise ValueError("No positions given.")
        return out
    return torch.nonzero(chosen).flatten().tolist()


def audio_seconds(audio: Bool[Tensor, "pos"], seconds_per_token: float
                  ) -> list[Optional[tuple[float, float]]]:
    """`(start, end)` in seconds of each audio position, counted from the first placeholder of
    its clip (a run of consecutive placeholders); None at text positions."""
    out: list[Optional[tuple[float, float]]] = []
    offset = 0
    for is_audio in audio.bool().tolist():
        if is_audio:
            out.append((offset * seconds_per_token, (offset + 1) * seconds_per_token))
            offset += 1
        else:
            out.append(None)
            offset = 0
    return out


def model_tokenizer(model: Any, tokenizer: Any = None) -> Any:
    """`tokenizer`, else the tokenizer of the processor attached to the model, if any."""
    if tokenizer is not None:
        return tokenizer
    return getattr(getattr(model, "processor", None), "tokenizer", None)


def resolve_token(model: Any, token: TokenSpec, tokenizer: Any = None, what: str = "target",
                  first_of_many: bool = False) -> int:
    """A token id in the model's vocabulary from an id, a string (with a tokenizer, by default
    the attached processor's; it must be one token unless `first_of_many`) or a sequence of
    ids (its first id, as for a multi-token answer)."""
    d_vocab = model.cfg.d_vocab
    tokenizer = model_tokenizer(model, tokenizer)
    if isinstance(token, str):
        if tokenizer is None:
            raise ValueError(f"The {what} {token!r} is a string: pass tokenizer= (the model's HF "
                             "tokenizer), attach the processor (model.set_processor) or give "
                             "token ids.")
        ids = tokenizer.encode(token, add_special_tokens=False)
        if first_of_many and ids:
            ids = ids[:1]
        if len(ids) != 1:
            raise ValueError(f"The {what} {token!r} is {len(ids)} tokens ({ids}), not one; give "
                             "its token ids (the first one is read) or a single-token string.")
        token = ids[0]
    elif isinstance(token, (list, tuple)) or (isinstance(token, Tensor) and token.ndim == 1):
        if len(token) == 0:
            raise ValueError(f"The {what} is an empty token sequence.")
        token = token[0]
    if isinstance(token, Tensor) and token.numel() == 1:
        token = token.item()
    try:
        token_id = None if isinstance(token, bool) else operator.index(token)
    except TypeError:
        token_id = None
    if token_id is None or not 0 <= token_id < d_vocab:
        raise ValueError(f"Unknown {what} token {token!r}: token ids are 0..{d_vocab - 1}.")
    return token_id


def _row_of(tensor: Optional[Tensor], row: int) -> Optional[Tensor]:
    if tensor is None:
        return None
    return tensor[row] if tensor.ndim == 2 else tensor


def _pick_row(batch: int, row: Optional[int]) -> int:
    if row is None:
        if batch != 1:
            raise ValueError(f"The input has {batch} rows: pick one with row=.")
        return 0
    if not -batch <= row < batch:
        raise ValueError(f"row={row} is outside the batch of {batch}.")
    return row % batch


class _StopForward(Exception):
    """Raised after the last residual stream is captured: the unembedding (the largest
    activation of an audio LM, `pos x d_vocab`) is never computed for the whole sequence."""


def capture_residuals(model: Any, inputs: Mapping[str, Any], names: Sequence[str], row: int,
                      positions: Sequence[int]) -> Float[Tensor, "n_names n_pos d_model"]:
    """Run the model on HF-style `inputs` and keep `names`' residual streams at one row's
    positions only. Hooks already on the model act first, so edits they make are seen."""
    kept: dict[str, Tensor] = {}
    index = torch.tensor(list(positions), dtype=torch.long)
    unique = list(dict.fromkeys(names))

    def keep(x: Tensor, hook: Any) -> None:
        kept[hook.name] = x[row, index.to(x.device)].detach().clone()
        if len(kept) == len(unique):
            raise _StopForward

    with torch.no_grad(), model.hooks(fwd_hooks=[(name, keep) for name in unique]):
        try:
            model(**inputs)
        except _StopForward:
            pass
    return torch.stack([kept[name] for name in names])


def _from_cache(cache: ActivationCache, names: Sequence[str], row: int,
                positions: Sequence[int]) -> Float[Tensor, "n_names n_pos d_model"]:
    missing = [n for n in names if n not in cache.cache_dict]
    if missing:
        raise ValueError(f"The cache lacks {missing[:3]}{'...' if len(missing) > 3 else ''}: run "
                         "run_with_cache without a names_filter that drops the residual stream.")
    index = torch.tensor(list(positions), dtype=torch.long)
    out = []
    for name in names:
        x = cache[name]
        x = x[row] if cache.has_batch_dim else x
        out.append(x[index.to(x.device)])
    return torch.stack(out)


def _seq_len_of(cache_or_inputs: Any, n_layers: int) -> tuple[int, int]:
    if isinstance(cache_or_inputs, ActivationCache):
        x = cache_or_inputs[lens_hook_names(n_layers)[0]]
        return (x.shape[0], x.shape[1]) if cache_or_inputs.has_batch_dim else (1, x.shape[0])
    ids = cache_or_inputs["input_ids"]
    return (1, ids.shape[0]) if ids.ndim == 1 else (ids.shape[0], ids.shape[1])


@dataclass
class _Readout:
    top_ids: Int[Tensor, "rows k"]
    top_log_probs: Float[Tensor, "rows k"]
    entropy: Float[Tensor, "rows"]
    target_log_probs: Optional[Float[Tensor, "rows t"]]
    target_ranks: Optional[Int[Tensor, "rows t"]]
    log_probs: Optional[Float[Tensor, "rows d_vocab"]]


def read_vocabulary(model: Any, resid: Float[Tensor, "rows d_model"],
                    targets: Optional[Sequence[int]] = None, top_k: int = 5,
                    full_vocab: bool = False, max_elements: int = DEFAULT_MAX_ELEMENTS) -> _Readout:
    """`log_softmax(unembed(ln_final(resid)))` row by row, in chunks of at most
    `max_elements` logits; keeps the top-k, the targets' log-probs and full-vocabulary ranks
    (0 = the argmax; only strictly larger logits count), the entropy (nats)."""
    d_vocab = model.cfg.d_vocab
    top_k = min(top_k, d_vocab)
    rows_per_chunk = max(1, max_elements // d_vocab)
    target_index = None if targets is None else torch.tensor(list(targets), dtype=torch.long)
    parts: dict[str, list[Tensor]] = {k: [] for k in ("ids", "top", "ent", "tlp", "rank", "full")}
    with torch.no_grad():
        for start in range(0, resid.shape[0], rows_per_chunk):
            x = resid[start:start + rows_per_chunk].to(model.device)
            logits = model.unembed(model.ln_final(x[None]))[0].float()  # [rows, d_vocab]
            log_probs = logits.log_softmax(-1)
            top = log_probs.topk(top_k, dim=-1)
            parts["ids"].append(top.indices.cpu())
            parts["top"].append(top.values.cpu())
            parts["ent"].append(-(log_probs.exp() * log_probs).sum(-1).cpu())
            if target_index is not None:
                chosen = logits[:, target_index.to(logits.device)]  # [rows, t]
                parts["tlp"].append(log_probs[:, target_index.to(logits.device)].cpu())
                parts["rank"].append(torch.stack(
                    [(logits > chosen[:, j:j + 1]).sum(-1) for j in range(chosen.shape[1])],
                    dim=-1).cpu())
            if full_vocab:
                parts["full"].append(log_probs.cpu())
            del logits, log_probs
    cat = lambda k: torch.cat(parts[k]) if parts[k] else None  # noqa: E731
    return _Readout(cat("ids"), cat("top"), cat("ent"), cat("tlp"), cat("rank"), cat("full"))


# ----------------------------------------------------------------------------- logit lens
@dataclass
class LogitLensResult:
    """The vocabulary projection of the residual stream, `[layer, position, ...]`.

    `layers` are lens layers (`l` = entering block `l`, `n_layers` = the final stream, equal to
    the model's logits) with TransformerLens's `labels`; `positions` are absolute indices in the
    row read; `is_audio` marks audio placeholders and `seconds` gives each one's `(start, end)`
    in its clip (None for text). `top_ids` / `top_log_probs` are the top-k per cell;
    `target_log_probs` / `target_ranks` (0 = argmax of the whole vocabulary) the given
    `target_ids`; `entropy` is in nats; `log_probs` is the whole vocabulary, only when asked.
    `tokenizer` (if known) decodes tokens in `to_dataframe` and `plot`.
    """

    layers: list[int]
    labels: list[str]
    positions: list[int]
    is_audio: Bool[Tensor, "pos"]
    seconds: list[Optional[tuple[float, float]]]
    top_ids: Int[Tensor, "layer pos k"]
    top_log_probs: Float[Tensor, "layer pos k"]
    entropy: Float[Tensor, "layer pos"]
    tokens: Optional[Int[Tensor, "pos"]] = None
    target_ids: Optional[list[int]] = None
    target_log_probs: Optional[Float[Tensor, "layer pos target"]] = None
    target_ranks: Optional[Int[Tensor, "layer pos target"]] = None
    log_probs: Optional[Float[Tensor, "layer pos d_vocab"]] = None
    metadata: dict = field(default_factory=dict)
    tokenizer: Any = field(default=None, repr=False)

    def _target_column(self, target: Optional[int]) -> int:
        if self.target_ids is None:
            raise ValueError("This lens was run without targets=.")
        if target is None:
            return 0
        if target not in self.target_ids:
            raise ValueError(f"Token {target} is not among this lens's targets {self.target_ids}.")
        return self.target_ids.index(target)

    def target_probs(self, target: Optional[int] = None) -> Float[Tensor, "layer pos"]:
        """Probability of a target token (default: the first) at every layer and position."""
        return self.target_log_probs[..., self._target_column(target)].exp()

    def target_rank(self, target: Optional[int] = None) -> Int[Tensor, "layer pos"]:
        return self.target_ranks[..., self._target_column(target)]

    def to_dataframe(self, tokenizer: Any = None):
        """One row per (layer, position): times, the top-k tokens with their log-probs, the
        entropy, and `prob_{id}` / `rank_{id}` for every target."""
        import pandas as pd

        decode = _decoder(tokenizer or self.tokenizer)
        rows = []
        for li, layer in enumerate(self.layers):
            for pi, pos in enumerate(self.positions):
                row: dict[str, Any] = {"layer": layer, "label": self.labels[li], "position": pos,
                                       "is_audio": bool(self.is_audio[pi])}
                span = self.seconds[pi]
                row["start_s"], row["end_s"] = span if span is not None else (None, None)
                if self.tokens is not None:
                    row["input_token"] = decode(int(self.tokens[pi]))
                for k in range(self.top_ids.shape[-1]):
                    row[f"top{k + 1}"] = decode(int(self.top_ids[li, pi, k]))
                    row[f"top{k + 1}_log_prob"] = float(self.top_log_probs[li, pi, k])
                row["entropy"] = float(self.entropy[li, pi])
                for ti, tid in enumerate(self.target_ids or []):
                    row[f"prob_{tid}"] = float(self.target_log_probs[li, pi, ti].exp())
                    row[f"rank_{tid}"] = int(self.target_ranks[li, pi, ti])
                rows.append(row)
        return pd.DataFrame(rows)

    def position_labels(self, tokenizer: Any = None) -> list[str]:
        """Audio positions as their start time (`"0.12s"`), text positions as their token."""
        decode = _decoder(tokenizer or self.tokenizer)
        labels = []
        for pi, pos in enumerate(self.positions):
            span = self.seconds[pi]
            if span is not None:
                labels.append(f"{span[0]:.2f}s")
            elif self.tokens is not None:
                labels.append(str(decode(int(self.tokens[pi]))))
            else:
                labels.append(str(pos))
        return labels

    def plot(self, value: Optional[str] = None, target: Optional[int] = None, tokenizer: Any = None,
             annotate: Optional[bool] = None, ax=None, title: Optional[str] = None):
        """Heatmap layer x position of `value`: `"target_prob"` (default with targets),
        `"top_prob"` (default without), `"target_rank"` (log10(1 + rank)) or `"entropy"`.
        Audio positions are labelled with their start time and marked by an orange strip;
        cells carry the top-1 token when there are few of them (`annotate`)."""
        import matplotlib.pyplot as plt

        value = value or ("target_prob" if self.target_ids is not None else "top_prob")
        if value == "target_prob":
            token = self.target_ids[self._target_column(target)]
            data, label = self.target_probs(target), f"p(token {token})"
        elif value == "target_rank":
            data = torch.log10(1.0 + self.target_rank(target).float())
            label = f"log10(1 + rank of token {self.target_ids[self._target_column(target)]})"
        elif value == "top_prob":
            data, label = self.top_log_probs[..., 0].exp(), "top-1 probability"
        elif value == "entropy":
            data, label = self.entropy, "entropy (nats)"
        else:
            raise ValueError(f"value must be 'target_prob', 'target_rank', 'top_prob' or "
                             f"'entropy'; got {value!r}.")
        n_layers, n_pos = data.shape
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, min(16, 2 + 0.25 * n_pos)), 1.5 + 0.4 * n_layers))
        vmax = 1.0 if value.endswith("prob") else None
        image = ax.imshow(data.numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=vmax,
                          interpolation="nearest", origin="lower")
        ax.set_yticks(range(n_layers), self.labels)
        ax.set_ylabel("lens layer")
        labels = self.position_labels(tokenizer)
        step = max(1, n_pos // 40)
        ticks = list(range(0, n_pos, step))
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90, fontsize=7)
        for tick, i in zip(ax.get_xticklabels(), ticks):
            if self.is_audio[i]:
                tick.set_color("tab:orange")
        for start, stop in _runs(self.is_audio.tolist()):
            ax.axvspan(start - 0.5, stop - 0.5, ymin=0, ymax=0.03, color="tab:orange",
                       clip_on=False)
        ax.set_xlabel("position (audio in orange, labelled by start time in the clip)")
        if annotate is None:
            annotate = n_layers * n_pos <= 300
        if annotate:
            decode = _decoder(tokenizer or self.tokenizer)
            for li in range(n_layers):
                for pi in range(n_pos):
                    ax.text(pi, li, str(decode(int(self.top_ids[li, pi, 0])))[:6], ha="center",
                            va="center", fontsize=6, color="white")
        ax.set_title(title or f"logit lens: {label}")
        ax.figure.colorbar(image, ax=ax, label=label)
        return ax


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """`(start, stop)` of each run of True in `flags`."""
    runs, start = [], None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _decoder(tokenizer: Any) -> Callable[[int], Any]:
    if tokenizer is None:
        return lambda token: token
    return lambda token: tokenizer.decode([token])


def logit_lens(model: Any, cache_or_inputs: Union[ActivationCache, Mapping[str, Any]],
               positions: PositionSpec = "all",
               targets: Optional[Union[TokenSpec, Sequence[TokenSpec]]] = None, top_k: int = 5,
               layers: Optional[Sequence[int]] = None, row: Optional[int] = None,
               input_ids: Optional[Tensor] = None, attention_mask: Optional[Tensor] = None,
               tokenizer: Any = None, full_vocab: bool = False,
               max_elements: int = DEFAULT_MAX_ELEMENTS) -> LogitLensResult:
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
    layers = _check_layers(layers, n_layers)
    is_cache = isinstance(cache_or_inputs, ActivationCache)
    if not is_cache:
        if not isinstance(cache_or_inputs, Mapping) or "input_ids" not in cache_or_inputs:
            raise TypeError("cache_or_inputs must be an ActivationCache or the model's keyword "
                            "inputs (a dict with input_ids, input_features, ...).")
        input_ids = cache_or_inputs["input_ids"]
        attention_mask = cache_or_inputs.get("attention_mask")
    batch, seq_len = _seq_len_of(cache_or_inputs, n_layers)
    row = _pick_row(batch, row)
    ids_row = _row_of(input_ids, row)
    if ids_row is not None and ids_row.shape[0] != seq_len:
        raise ValueError(f"input_ids have {ids_row.shape[0]} positions, the cache {seq_len}.")
    audio = None if ids_row is None else model.audio_positions(ids_row[None])[0].cpu()
    valid = _row_of(attention_mask, row)
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
        stack = _from_cache(cache_or_inputs, names, row, chosen)
    else:
        stack = capture_residuals(model, cache_or_inputs, names, row, chosen)
    n_l, n_p, d_model = stack.shape
    read = read_vocabulary(model, stack.reshape(n_l * n_p, d_model), target_ids, top_k,
                           full_vocab, max_elements)
    shape = lambda t: None if t is None else t.reshape(n_l, n_p, *t.shape[1:])  # noqa: E731
    is_audio = (audio[chosen] if audio is not None else torch.zeros(len(chosen), dtype=torch.bool))
    spans = None if audio is None else audio_seconds(audio, model.config.seconds_per_audio_token)
    return LogitLensResult(
        layers=layers, labels=lens_labels(layers, n_layers), positions=chosen, is_audio=is_audio,
        seconds=[spans[p] for p in chosen] if spans is not None else [None] * len(chosen),
        top_ids=shape(read.top_ids), top_log_probs=shape(read.top_log_probs),
        entropy=shape(read.entropy), tokens=None if ids_row is None else ids_row[chosen].cpu(),
        target_ids=target_ids, target_log_probs=shape(read.target_log_probs),
        target_ranks=shape(read.target_ranks), log_probs=shape(read.log_probs),
        metadata={"row": row, "seconds_per_audio_token": model.config.seconds_per_audio_token},
        tokenizer=model_tokenizer(model, tokenizer))
