"""Which positions and which batch row the logit lens reads: position specs (`"all"`,
`"audio"`, `"text"`, indices), the row of a batch, and the clip times of audio positions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from jaxtyping import Bool
from torch import Tensor

PositionSpec = Union[str, int, Sequence[int], Tensor, None]


def resolve_positions(
    positions: PositionSpec,
    seq_len: int,
    audio: Bool[Tensor, " pos"] | None = None,
    valid: Bool[Tensor, " pos"] | None = None,
) -> list[int]:
    """Absolute position indices. `"all"` / None: every non-padding position; `"audio"` /
    `"text"`: the audio placeholders / the other non-padding positions; an int or a list of
    ints (negative ones count from the end): those positions."""
    valid = torch.ones(seq_len, dtype=torch.bool) if valid is None else valid.bool().cpu()
    if positions is None or (isinstance(positions, str) and positions == "all"):
        chosen = valid
    elif isinstance(positions, str):
        if positions not in ("audio", "text"):
            raise ValueError(
                f"positions must be 'audio', 'text', 'all' or position indices; got {positions!r}."
            )
        if audio is None:
            raise ValueError(
                f"positions={positions!r} needs the prompt's input_ids to find the "
                "audio placeholders: pass input_ids= together with a cache."
            )
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
                raise ValueError(
                    f"Position {p} is outside the sequence of {seq_len} positions "
                    f"(valid: {-seq_len}..{seq_len - 1})."
                )
            out.append(p % seq_len)
        if not out:
            raise ValueError("No positions given.")
        return out
    return torch.nonzero(chosen).flatten().tolist()


def audio_seconds(
    audio: Bool[Tensor, " pos"], seconds_per_token: float
) -> list[tuple[float, float] | None]:
    """`(start, end)` in seconds of each audio position, counted from the first placeholder of
    its clip (a run of consecutive placeholders); None at text positions."""
    out: list[tuple[float, float] | None] = []
    offset = 0
    for is_audio in audio.bool().tolist():
        if is_audio:
            out.append((offset * seconds_per_token, (offset + 1) * seconds_per_token))
            offset += 1
        else:
            out.append(None)
            offset = 0
    return out


def row_of(tensor: Tensor | None, row: int) -> Tensor | None:
    """Row `row` of a `[batch, pos]` tensor; a 1-D tensor (one prompt) as it is."""
    if tensor is None:
        return None
    return tensor[row] if tensor.ndim == 2 else tensor


def pick_row(batch: int, row: int | None) -> int:
    """The batch row to read: `row` (negative counts from the end), or 0 for a batch of one."""
    if row is None:
        if batch != 1:
            raise ValueError(f"The input has {batch} rows: pick one with row=.")
        return 0
    if not -batch <= row < batch:
        raise ValueError(f"row={row} is outside the batch of {batch}.")
    return row % batch
