"""Shared argument checks and token-set gathering for the metrics (private)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Union

import torch
from jaxtyping import Float, Int
from torch import Tensor

#: A token specification: one id, a set of ids (any non-string sequence), or per-example ids as
#: an integer tensor `[batch]` (one id per example) or `[batch, k]` (a set of k per example).
Tokens = Union[int, Sequence[int], Int[Tensor, " batch"], Int[Tensor, "batch k"]]
#: The normalised form stored on a metric: an int, a tuple of ints, or a LongTensor.
StoredTokens = Union[int, tuple, Tensor]


def check_position(position: object, who: str) -> int:
    """An integer decoder position (negative counts from the end, as in Python indexing)."""
    if isinstance(position, bool):
        raise ValueError(f"{who}: position must be an integer, got the bool {position!r}.")
    try:
        return operator.index(position)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(
            f"{who}: position must be an integer decoder position, got "
            f"{type(position).__name__} {position!r}."
        ) from None


def check_per_example(per_example: object, who: str) -> None:
    if not isinstance(per_example, bool):
        raise ValueError(f"{who}: per_example must be True or False, got {per_example!r}.")


def check_logits(logits: object, who: str) -> Tensor:
    """Decoder logits `[batch, n_tokens, d_vocab]`."""
    if not isinstance(logits, Tensor):
        raise ValueError(
            f"{who} takes decoder logits as a tensor [batch, n_tokens, d_vocab], "
            f"got {type(logits).__name__}."
        )
    if logits.ndim != 3:
        raise ValueError(
            f"{who} takes decoder logits [batch, n_tokens, d_vocab], got shape "
            f"{tuple(logits.shape)}. Add the batch axis with `logits[None]`, or pass the model's "
            "full output (`model(mel, tokens)`), not one position's row."
        )
    if not logits.is_floating_point():
        raise ValueError(f"{who} takes floating-point logits, got dtype {logits.dtype}.")
    return logits


def resolve_position(position: int, n_tokens: int, who: str) -> int:
    if not -n_tokens <= position < n_tokens:
        raise ValueError(
            f"{who}: position {position} is out of range for logits with {n_tokens} decoder "
            f"positions (valid: {-n_tokens}..{n_tokens - 1}). Logits at index i predict token "
            "i + 1, so the answer token at index j is predicted at position j - 1; check the "
            "tokens the model was run on."
        )
    return position % n_tokens


def as_float(x: Tensor) -> Tensor:
    """At least float32 (half-precision logits are upcast; float64 is kept)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def normalise_tokens(tokens: object, name: str, who: str) -> StoredTokens:
    """Check a token specification at construction and store it as int / tuple / LongTensor."""
    if isinstance(tokens, bool):
        raise ValueError(f"{who}: {name} must be token ids, got the bool {tokens!r}.")
    if isinstance(tokens, Tensor):
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
            raise ValueError(
                f"{who}: {name} as a tensor must hold integer token ids, got dtype "
                f"{tokens.dtype}; use `.long()`."
            )
        if tokens.ndim == 0:
            return normalise_tokens(int(tokens), name, who)
        if tokens.ndim not in (1, 2) or tokens.numel() == 0:
            raise ValueError(
                f"{who}: {name} as a tensor is per-example: [batch] (one id per example) or "
                f"[batch, k] (a set of k ids per example), non-empty; got shape "
                f"{tuple(tokens.shape)}. Give a token set shared by every example as a list."
            )
        tokens = tokens.detach().long()
        if (tokens < 0).any():
            raise ValueError(
                f"{who}: {name} holds negative token ids "
                f"{sorted(set(tokens[tokens < 0].tolist()))}."
            )
        if tokens.ndim == 2 and tokens.shape[1] > 1:
            ordered = tokens.sort(dim=-1).values
            dup = (ordered[:, 1:] == ordered[:, :-1]).any(dim=-1)
            if dup.any():
                raise ValueError(
                    f"{who}: {name} repeats a token id within the set of example(s) "
                    f"{dup.nonzero().flatten().tolist()}; logsumexp would count it twice."
                )
        return tokens
    if isinstance(tokens, (str, bytes)):
        raise ValueError(
            f"{who}: {name} must be token ids, got the string {tokens!r}; convert it "
            "with `model.to_single_token(' word')` (note the leading space)."
        )
    if isinstance(tokens, Sequence):
        if len(tokens) == 0:
            raise ValueError(f"{who}: {name} is an empty token set; give at least one token id.")
        ids = tuple(normalise_tokens(t, name, who) for t in tokens)
        if any(not isinstance(t, int) for t in ids):
            raise ValueError(
                f"{who}: {name} as a sequence must be a flat set of ints, got {tokens!r}."
            )
        if len(set(ids)) != len(ids):
            dups = sorted({t for t in ids if ids.count(t) > 1})
            raise ValueError(
                f"{who}: {name} repeats token id(s) {dups}; logsumexp would count them twice."
            )
        return ids if len(ids) > 1 else ids[0]
    try:
        token = operator.index(tokens)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(
            f"{who}: {name} must be an int, a sequence of ints or an integer tensor, "
            f"got {type(tokens).__name__}."
        ) from None
    if token < 0:
        raise ValueError(f"{who}: {name} is a negative token id ({token}).")
    return token


def token_matrix(
    tokens: StoredTokens, batch: int, d_vocab: int, device: torch.device, name: str, who: str
) -> Int[Tensor, "batch k"]:
    """The stored tokens as ids `[batch, k]` for the logits being scored, checked against them."""
    if isinstance(tokens, Tensor):
        ids = tokens.to(device)
        if ids.shape[0] != batch:
            raise ValueError(
                f"{who}: {name} gives {ids.shape[0]} per-example token ids but the "
                f"logits have batch {batch}; give one row per example."
            )
        ids = ids[:, None] if ids.ndim == 1 else ids
    else:
        row = [tokens] if isinstance(tokens, int) else list(tokens)
        ids = torch.tensor(row, dtype=torch.long, device=device).expand(batch, -1)
    if ids.numel() and int(ids.max()) >= d_vocab:
        bad = sorted(set(ids[ids >= d_vocab].tolist()))
        raise ValueError(
            f"{who}: {name} token id(s) {bad} are outside the vocabulary of the "
            f"logits (d_vocab={d_vocab})."
        )
    return ids


def gather_set(
    values: Float[Tensor, "batch d_vocab"], ids: Int[Tensor, "batch k"]
) -> Float[Tensor, " batch"]:
    """logsumexp over each example's token set (exactly the value itself for a single token)."""
    picked = values.gather(-1, ids)
    return picked[:, 0] if picked.shape[1] == 1 else picked.logsumexp(dim=-1)


def reduce_batch(values: Float[Tensor, " batch"], per_example: bool) -> Tensor:
    return values if per_example else values.mean()
