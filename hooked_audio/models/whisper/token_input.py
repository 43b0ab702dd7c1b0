"""Decoder tokens as the user gives them (a tensor, a list of ids) -> `[batch, pos]` ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor


def as_tokens(tokens: Any, device: str | torch.device) -> Int[Tensor, "batch pos"]:
    """Token ids `[batch, pos]` on `device` from a tensor, a numpy array, a list of ids (one
    sequence) or a list of equal-length lists (a batch). Text, floats and empty sequences are
    refused with the fix."""
    if isinstance(tokens, str) or (
        isinstance(tokens, (list, tuple)) and any(isinstance(t, str) for t in tokens)
    ):
        text = tokens if isinstance(tokens, str) else next(t for t in tokens if isinstance(t, str))
        raise TypeError(
            f"The decoder takes token ids, not text ({text[:40]!r}): convert it with "
            "`model.to_tokens(text)`, which also adds Whisper's start-of-transcript "
            "prefix."
        )
    if not isinstance(tokens, Tensor):
        if not isinstance(tokens, (list, tuple, np.ndarray)):
            raise TypeError(
                f"Tokens must be a tensor or a list of token ids, got "
                f"{type(tokens).__name__}; build them with `model.to_tokens(text)`."
            )
        try:
            tokens = torch.as_tensor(np.asarray(tokens))
        except (ValueError, TypeError) as err:
            raise ValueError(
                "A list of token sequences must have one length per row (a "
                "rectangular batch); `model.to_tokens([...texts])` pads them."
            ) from err
    if tokens.ndim == 1:
        tokens = tokens[None]
    if tokens.dtype in (torch.uint8, torch.int8, torch.int16):
        tokens = tokens.long()  # as ids, not as a mask
    check_token_tensor(tokens)
    return tokens.to(device)


def check_token_tensor(tokens: Tensor) -> None:
    """Integer ids (int64 or int32) `[batch, pos]` with at least one row and one position."""
    if tokens.ndim == 2 and tokens.numel() == 0:
        raise ValueError(
            f"Decoder tokens are empty (shape {tuple(tokens.shape)}): the decoder needs at least "
            "one token per row. Start from `model.to_tokens(text)` (or `model.start_tokens()` "
            "for the prefix alone)."
        )
    if tokens.ndim != 2 or tokens.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"Decoder tokens must be an integer tensor [batch, pos], got {tokens.dtype} of "
            f"shape {tuple(tokens.shape)}; build them with `model.to_tokens(text)`."
        )
