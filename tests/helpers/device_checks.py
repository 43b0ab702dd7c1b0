"""`tensors_made_on(device)`: a stand-in for a second device on a machine without a GPU.

On CUDA, a tensor an engine makes without `device=` (`torch.zeros(n)`, `torch.arange(n)`,
`torch.tensor(values)`) is made on the CPU and fails where it meets the model's CUDA
activations. Inside `tensors_made_on("meta")` such tensors are made on `meta` instead, while
the model and its inputs stay on the CPU: the same bug then fails the same way on a CPU-only
machine ("Tensor on device meta is not on the expected device cpu"), or leaves `meta` values in
a result. Unlike `with torch.device("meta")`, converting an existing tensor (`torch.as_tensor(t)`,
`torch.tensor(t)`) keeps its device, as it does outside the context on any machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

#: constructors whose first argument may be an existing tensor, whose device they keep
_CONVERTERS = {torch.tensor, torch.as_tensor, torch.asarray}


class _TensorsMadeOn(TorchFunctionMode):
    def __init__(self, device: torch.device):
        super().__init__()
        self.device = device

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        converts = func in _CONVERTERS and args and isinstance(args[0], Tensor)
        if func in _device_constructors() and kwargs.get("device") is None and not converts:
            kwargs["device"] = self.device
        return func(*args, **kwargs)


@contextmanager
def tensors_made_on(device: str = "meta") -> Iterator[None]:
    """New tensors made without `device=` inside the block are made on `device`."""
    with _TensorsMadeOn(torch.device(device)):
        yield
