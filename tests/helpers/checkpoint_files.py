"""Checkpoint files written by tests: CTranslate2 `model.bin`s, and weights made non-finite."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch


def write_ct2(
    path: Path,
    variables: dict[str, np.ndarray],
    aliases: dict[str, str],
    bfloat16: tuple[str, ...] = (),
) -> None:
    """A binary version 6 model.bin, written the way CTranslate2's `ModelSpec._serialize` does;
    float32 variables named in `bfloat16` are stored as bfloat16 (top 16 bits)."""
    dtype_ids = {
        np.dtype(t): i for i, t in enumerate([np.float32, np.int8, np.int16, np.int32, np.float16])
    }

    def string(s: str) -> bytes:
        return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"

    out = [struct.pack("<I", 6), string("WhisperSpec"), struct.pack("<II", 3, len(variables))]
    for name, value in variables.items():
        if name in bfloat16:
            dtype_id, raw = 5, (value.view("<u4") >> 16).astype("<u2").tobytes()
        else:
            dtype_id, raw = dtype_ids[value.dtype], value.tobytes()
        out += [
            string(name),
            struct.pack(f"<B{value.ndim}I", value.ndim, *value.shape),
            struct.pack("<BI", dtype_id, len(raw)),
            raw,
        ]
    out.append(struct.pack("<I", len(aliases)))
    out += [string(a) + string(t) for a, t in aliases.items()]
    path.write_bytes(b"".join(out))


def poison(
    state_dict: dict[str, torch.Tensor], names: Iterable[str], value: float = float("nan")
) -> dict[str, torch.Tensor]:
    """A copy of `state_dict` whose tensors `names` hold `value` at their first element."""
    out = dict(state_dict)
    for name in names:
        tensor = out[name].clone()
        tensor.view(-1)[0] = value
        out[name] = tensor
    return out
