"""The logit lens's readout: which residual-stream hooks it reads, capturing them (from a
forward pass that stops once they are kept, or from a cache), and projecting them onto the
vocabulary through the model's `ln_final` and `unembed` in chunks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import ActivationCache

DEFAULT_MAX_ELEMENTS = 2**25  # logits held at once: 128 MiB in float32


def lens_hook_names(n_layers: int) -> list[str]:
    """The residual-stream hooks the lens reads, one per lens layer `0..n_layers`."""
    return [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)] + [
        f"blocks.{n_layers - 1}.hook_resid_post"
    ]


def lens_labels(layers: Sequence[int], n_layers: int) -> list[str]:
    """TransformerLens's `accumulated_resid` labels: `"{l}_pre"`, and `"final_post"`."""
    return ["final_post" if l == n_layers else f"{l}_pre" for l in layers]


def check_layers(layers: Sequence[int] | None, n_layers: int) -> list[int]:
    """The lens layers to read: `layers` checked against `0..n_layers`, or all of them."""
    if layers is None:
        return list(range(n_layers + 1))
    layers = [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l <= n_layers]
    if bad or not layers:
        raise ValueError(
            f"Lens layers are 0..{n_layers} (0 = embeddings, {n_layers} = the final "
            f"residual stream); got {bad or 'none'}."
        )
    return layers


class _StopForward(Exception):
    """Raised after the last residual stream is captured: the unembedding (the largest
    activation of an audio LM, `pos x d_vocab`) is never computed for the whole sequence."""


def capture_residuals(
    model: Any, inputs: Mapping[str, Any], names: Sequence[str], row: int, positions: Sequence[int]
) -> Float[Tensor, "n_names n_pos d_model"]:
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


def residuals_from_cache(
    cache: ActivationCache, names: Sequence[str], row: int, positions: Sequence[int]
) -> Float[Tensor, "n_names n_pos d_model"]:
    """`names`' residual streams at one row's positions, read from an `ActivationCache`."""
    missing = [n for n in names if n not in cache.cache_dict]
    if missing:
        raise ValueError(
            f"The cache lacks {missing[:3]}{'...' if len(missing) > 3 else ''}: run "
            "run_with_cache without a names_filter that drops the residual stream."
        )
    index = torch.tensor(list(positions), dtype=torch.long)
    out = []
    for name in names:
        x = cache[name]
        x = x[row] if cache.has_batch_dim else x
        out.append(x[index.to(x.device)])
    return torch.stack(out)


@dataclass
class VocabularyReadout:
    """What `read_vocabulary` keeps per row (see there)."""

    top_ids: Int[Tensor, "rows k"]
    top_log_probs: Float[Tensor, "rows k"]
    entropy: Float[Tensor, " rows"]
    target_log_probs: Float[Tensor, "rows t"] | None
    target_ranks: Int[Tensor, "rows t"] | None
    log_probs: Float[Tensor, "rows d_vocab"] | None


def read_vocabulary(
    model: Any,
    resid: Float[Tensor, "rows d_model"],
    targets: Sequence[int] | None = None,
    top_k: int = 5,
    full_vocab: bool = False,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> VocabularyReadout:
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
            x = resid[start : start + rows_per_chunk].to(model.device)
            logits = model.unembed(model.ln_final(x[None]))[0].float()  # [rows, d_vocab]
            log_probs = logits.log_softmax(-1)
            top = log_probs.topk(top_k, dim=-1)
            parts["ids"].append(top.indices.cpu())
            parts["top"].append(top.values.cpu())
            parts["ent"].append(-(log_probs.exp() * log_probs).sum(-1).cpu())
            if target_index is not None:
                chosen = logits[:, target_index.to(logits.device)]  # [rows, t]
                parts["tlp"].append(log_probs[:, target_index.to(logits.device)].cpu())
                parts["rank"].append(
                    torch.stack(
                        [(logits > chosen[:, j : j + 1]).sum(-1) for j in range(chosen.shape[1])],
                        dim=-1,
                    ).cpu()
                )
            if full_vocab:
                parts["full"].append(log_probs.cpu())
            del logits, log_probs
    cat = lambda k: torch.cat(parts[k]) if parts[k] else None  # noqa: E731
    return VocabularyReadout(
        cat("ids"), cat("top"), cat("ent"), cat("tlp"), cat("rank"), cat("full")
    )
