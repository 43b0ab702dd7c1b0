"""Token ids for the logit lens: targets and answer candidates given as ids, strings or
token sequences, and the tokenizer used to read strings."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Union

from torch import Tensor

TokenSpec = Union[int, str, Sequence[int]]


def model_tokenizer(model: Any, tokenizer: Any = None) -> Any:
    """`tokenizer`, else the tokenizer of the processor attached to the model, if any."""
    if tokenizer is not None:
        return tokenizer
    return getattr(getattr(model, "processor", None), "tokenizer", None)


def resolve_token(
    model: Any,
    token: TokenSpec,
    tokenizer: Any = None,
    what: str = "target",
    first_of_many: bool = False,
) -> int:
    """A token id in the model's vocabulary from an id, a string (with a tokenizer, by default
    the attached processor's; it must be one token unless `first_of_many`) or a sequence of
    ids (its first id, as for a multi-token answer)."""
    d_vocab = model.cfg.d_vocab
    tokenizer = model_tokenizer(model, tokenizer)
    if isinstance(token, str):
        if tokenizer is None:
            raise ValueError(
                f"The {what} {token!r} is a string: pass tokenizer= (the model's HF "
                "tokenizer), attach the processor (model.set_processor) or give "
                "token ids."
            )
        ids = tokenizer.encode(token, add_special_tokens=False)
        if first_of_many and ids:
            ids = ids[:1]
        if len(ids) != 1:
            raise ValueError(
                f"The {what} {token!r} is {len(ids)} tokens ({ids}), not one; give "
                "its token ids (the first one is read) or a single-token string."
            )
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
