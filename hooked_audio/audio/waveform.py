"""`Audio`: a mono waveform that carries its sample rate.

``load_audio``, every corruption and the pair builders and loaders return an
:class:`Audio`, so ``model.to_mel(audio)`` and ``model.to_frames(audio)`` need no
``sample_rate=``. A plain numpy array or tensor carries no rate and still needs one.

``Audio`` is a numpy ``ndarray`` subclass: ``len()``, indexing, arithmetic,
``np.testing``, ``soundfile`` and ``torch.from_numpy`` work as for a plain array, and
``np.asarray(audio)`` gives the plain array (no copy). The rate is kept only where the
result is still a waveform on the same time axis:

* contiguous slices (``audio[1600:3200]``, ``audio[::-1]``), ``.copy()``, ``.astype()``;
* element-wise ufuncs and arithmetic whose result is a float array of the same length
  (``audio * 0.5``, ``audio + noise``, ``np.tanh(audio)``);
* ``np.concatenate``, ``np.hstack``, ``np.append``, ``np.pad``, ``np.clip``, ``np.copy``,
  ``np.flip``, ``np.roll``, ``np.where``, ``np.nan_to_num``, ``np.round``.

Everything else (reductions, strided or fancy indexing, reshapes, FFTs, comparisons)
gives a plain ``ndarray``. Combining two ``Audio`` of different rates into a waveform
raises :class:`AudioInputError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hooked_audio.audio.checks import check_rate
from hooked_audio.audio.errors import AudioInputError

_KEEPS_RATE = {
    np.concatenate,
    np.hstack,
    np.append,
    np.pad,
    np.clip,
    np.copy,
    np.flip,
    np.roll,
    np.where,
    np.nan_to_num,
    np.round,
}
_COMPARISONS = {
    np.equal,
    np.not_equal,
    np.less,
    np.less_equal,
    np.greater,
    np.greater_equal,
    np.isfinite,
    np.isnan,
    np.isinf,
    np.signbit,
    np.logical_and,
    np.logical_or,
    np.logical_xor,
    np.logical_not,
}


class Audio(np.ndarray):
    """A 1-D float waveform with its ``sample_rate`` in Hz (see the module docstring).

    ``Audio(samples, sample_rate)`` wraps a 1-D float numpy array without copying it.
    For files, tensors, stereo or integer PCM use :func:`hooked_audio.load_audio`, which
    returns an ``Audio``.
    """

    sample_rate: int | None

    def __new__(cls, samples: np.ndarray, sample_rate: int) -> Audio:
        rate = check_rate(sample_rate, "sample_rate")
        if not isinstance(samples, np.ndarray):
            raise AudioInputError(
                f"Audio wraps a numpy array, got {type(samples).__name__}; load files, "
                "tensors and lists with hooked_audio.load_audio(x, sample_rate=...)."
            )
        if samples.ndim != 1 or not np.issubdtype(samples.dtype, np.floating):
            raise AudioInputError(
                f"Audio holds a 1-D float waveform, got shape {samples.shape} and dtype "
                f"{samples.dtype}; use hooked_audio.load_audio(x, sample_rate=...), which "
                "downmixes stereo and scales integer PCM."
            )
        out = samples.view(cls)
        out.sample_rate = rate
        return out

    def __array_finalize__(self, obj: Any) -> None:
        self.sample_rate = getattr(obj, "sample_rate", None) if self.ndim == 1 else None

    def __getitem__(self, key: Any) -> Any:
        out = super().__getitem__(key)
        if isinstance(out, Audio) and not _same_time_axis(key):
            return out.view(np.ndarray)
        return out

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out", ())
        rates = _rates(inputs + tuple(out))
        if len(rates) > 1 and method == "__call__" and ufunc not in _COMPARISONS:
            raise _mixed_rates(rates, ufunc.__name__)
        args = [_plain(x) for x in inputs]
        if out:
            kwargs["out"] = tuple(_plain(x) for x in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out:
            return out[0] if len(out) == 1 else tuple(out)
        if method != "__call__" or len(rates) != 1:
            return result
        rate = next(iter(rates))
        lengths = {len(x) for x in inputs if isinstance(x, Audio)}
        if isinstance(result, tuple):
            return tuple(_wrap(r, rate, lengths) for r in result)
        return _wrap(result, rate, lengths)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        result = super().__array_function__(func, types, args, kwargs)
        if result is NotImplemented:
            return result
        if func in _KEEPS_RATE:
            rates = _rates(_flatten(args) + _flatten(tuple(kwargs.values())))
            if len(rates) > 1:
                raise _mixed_rates(rates, func.__name__)
            if len(rates) == 1 and isinstance(result, np.ndarray):
                return _wrap(result.view(np.ndarray), next(iter(rates)), None)
        return _strip(result)

    def reshape(self, *args: Any, **kwargs: Any) -> np.ndarray:
        out = super().reshape(*args, **kwargs)
        return out if out.ndim == 1 and out.shape == self.shape else out.view(np.ndarray)

    def repeat(self, *args: Any, **kwargs: Any) -> np.ndarray:
        return self.view(np.ndarray).repeat(*args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> Any:
        return self.view(np.ndarray).take(*args, **kwargs)

    def __reduce__(self) -> tuple:
        rebuild, args, state = super().__reduce__()
        return rebuild, args, (state, self.sample_rate)

    def __setstate__(self, state: tuple) -> None:
        array_state, rate = state
        super().__setstate__(array_state)
        self.sample_rate = rate

    def __repr__(self) -> str:
        text = repr(self.view(np.ndarray))
        return "Audio" + text[len("array") : -1] + f", sample_rate={self.sample_rate})"


def carried_rate(x: object) -> int | None:
    """The sample rate ``x`` carries: an :class:`Audio`'s rate, else ``None``."""
    if isinstance(x, Audio) and x.ndim == 1:
        return x.sample_rate
    return None


def _same_time_axis(key: Any) -> bool:
    """Whether indexing a 1-D array with ``key`` keeps consecutive samples in order."""
    if isinstance(key, tuple):
        if len(key) != 1:
            return False
        key = key[0]
    if key is Ellipsis:
        return True
    return isinstance(key, slice) and key.step in (None, 1, -1)


def _rates(values: tuple) -> set[int]:
    return {r for r in (carried_rate(v) for v in values) if r is not None}


def _flatten(values: tuple) -> tuple:
    out: list = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.extend(_flatten(tuple(v)))
        else:
            out.append(v)
    return tuple(out)


def _plain(x: Any) -> Any:
    return x.view(np.ndarray) if isinstance(x, Audio) else x


def _strip(result: Any) -> Any:
    if isinstance(result, Audio):
        return result.view(np.ndarray)
    if isinstance(result, (list, tuple)):
        return type(result)(_strip(r) for r in result)
    return result


def _wrap(result: Any, rate: int, lengths: set[int] | None) -> Any:
    """``result`` as ``Audio`` if it is a 1-D float array (of one of ``lengths``)."""
    if (
        isinstance(result, np.ndarray)
        and result.ndim == 1
        and np.issubdtype(result.dtype, np.floating)
        and (lengths is None or len(result) in lengths)
    ):
        return Audio(result, rate)
    return result


def _mixed_rates(rates: set[int], what: str) -> AudioInputError:
    listed = " and ".join(f"{r} Hz" for r in sorted(rates))
    return AudioInputError(
        f"{what} combines audio at {listed}; resample first so the rates match, e.g. "
        f"hooked_audio.load_audio(audio, target_rate={min(rates)})."
    )
