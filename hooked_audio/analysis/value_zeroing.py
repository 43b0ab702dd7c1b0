"""Value zeroing (Mohebbi et al. 2023, "Quantifying Context Mixing in Transformers"): how much
each frame's representation at an encoder layer is built from each other frame.

For self-attention block `l` and query frame `i`, zero key frame `j`'s value vector in every head
(`blocks.{l}.attn.hook_v[:, j] = 0`, bias included) and recompute the block. The raw score is the
cosine distance between frame `i`'s block output with and without that change,

    d[i, j] = 1 - cos(y_i^(not j), y_i),

and the mixing map is each row normalised to sum to 1, `C[i, j] = d[i, j] / sum_k d[i, k]`, as in
the paper. The keys `j` are zeroed one at a time; the queries and keys are frames you choose
(`frames`, `seconds`, `key_frames`): the row sums run over the keys computed, so restricting
the keys to the clip's frames (the default) gives each query's mixing *among the clip's frames*.

Which output: the paper compares the Transformer layer's output, after the attention sublayer,
its residual, LayerNorms and the feed-forward sublayer. Here that is the block's return value:
the next block's `hook_resid_pre`, i.e. `hook_resid_post` on pre-LN blocks (Whisper, Whisper-
style audio-LM towers, large wav2vec2) and `hook_normalized_resid_post` on post-LN blocks (base
wav2vec2 / HuBERT, where `hook_resid_post` is the sum before the last LayerNorm).

Cost: only block `l` is recomputed. One run of the stream, stopped right after block `l`, records
the block's exact inputs (its residual stream and any other argument, such as a padding mask);
then the block alone runs on `batch_size` copies of that input at a time, copy `b` with a
different frame's value zeroed. A map of `K` keys costs `K` single-block forwards over every
position (each query's output depends on all of them), whatever the number of queries.

Works for any stream whose blocks have TransformerLens's `attn.hook_v` (`[batch, pos, head,
d_head]`): the Whisper encoder, `HookedAudioEncoder` (wav2vec2 / HuBERT), an audio LM's tower.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.analysis.context_mixing_result import ContextMixingMap
from hooked_audio.checks import check_count, check_indices, check_layers
from hooked_audio.patching.time_cells import speech_frames
from hooked_audio.streams.protocol import AudioStream, StreamInput
from hooked_audio.word_times import check_word_times


class _StopAfterBlock(Exception):
    """Raised by the capture hook once block `l` has run: nothing after it is needed."""


@torch.no_grad()
def value_zeroing(
    view: AudioStream,
    x: StreamInput,
    layer: int,
    frames: Sequence[int] | None = None,
    seconds: tuple[float, float] | None = None,
    key_frames: Sequence[int] | None = None,
    words: Sequence[tuple[str, float, float]] = (),
    spectrogram: Tensor | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> ContextMixingMap:
    """The value-zeroing map of self-attention block `layer` of `view` on one clip `x` (batch 1,
    e.g. `model.to_frames(audio)`); see the module docstring.

    Query frames: `frames` (positions), or the positions covering `seconds = (start, end)`, or by
    default the frames holding the clip (`view.input_seconds`; every frame when it has no
    padding). Key frames: `key_frames`, else the query frames. `words` (`(word, start_s, end_s)`)
    and `spectrogram` (the clip's log-mel; a framed log-mel input is used when not given) are
    kept for `plot`."""
    block, hook_name = _check_layer(view, layer)
    batch_size = check_count(batch_size, "batch_size")
    x = torch.as_tensor(x)
    if x.shape[0] != 1:
        raise ValueError(f"x has batch {x.shape[0]}: value zeroing maps one clip; pass x[i:i + 1].")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise ValueError("x holds NaN or infinite values; pass the input of a finite clip.")
    step = _seconds_per_position(view)
    args, kwargs, output = _block_call(view, block, x)
    n_pos = output.shape[1]
    duration = view.input_seconds(x)
    queries = _query_positions(frames, seconds, n_pos, step, duration)
    keys = queries if key_frames is None else _positions(key_frames, n_pos, "key_frames")
    checked_words = check_word_times("words", words, n_pos * step) if words else []

    base = output[0, queries]  # [query, d_model]
    distances = torch.full((len(queries), len(keys)), float("nan"), dtype=torch.float64)
    chunks = [keys[start : start + batch_size] for start in range(0, len(keys), batch_size)]
    for start, chunk in zip(
        range(0, len(keys), batch_size),
        tqdm(chunks, desc=f"value zeroing, layer {layer}", disable=not progress),
    ):
        zeroed = _zeroed_outputs(view, block, hook_name, args, kwargs, chunk)
        distances[:, start : start + len(chunk)] = cosine_distance(zeroed[:, queries], base[None]).T
    if not torch.isfinite(distances).all():
        raise ValueError(
            "The block's outputs hold NaN or infinite values (with or without a value zeroed); "
            "value zeroing needs a finite run: check the input and the model's weights."
        )
    totals = distances.sum(dim=1, keepdim=True)
    scores = torch.where(totals > 0, distances / totals, torch.full_like(distances, math.nan))
    return ContextMixingMap(
        layer=layer,
        scores=scores,
        distances=distances,
        query_positions=queries,
        key_positions=keys,
        seconds_per_position=step,
        words=checked_words,
        spectrogram=_spectrogram(spectrogram, x),
    )


def cosine_distance(
    a: Float[Tensor, "*#batch d"], b: Float[Tensor, "*#batch d"]
) -> Float[Tensor, "*batch"]:
    """`1 - cos(a, b)` in float64, as `|a/|a| - b/|b||² / 2`: the same number, without the
    cancellation of `1 - cos` when the two are nearly parallel (most pairs of frames)."""
    a, b = a.double(), b.double()
    unit_a = a / a.norm(dim=-1, keepdim=True)
    unit_b = b / b.norm(dim=-1, keepdim=True)
    return (unit_a - unit_b).square().sum(dim=-1) / 2


def _check_layer(view: AudioStream, layer: Any) -> tuple[torch.nn.Module, str]:
    (layer,) = check_layers([layer], view.cfg.n_layers)
    hook_name = f"blocks.{layer}.attn.hook_v"
    if hook_name not in view.hook_dict:
        raise ValueError(
            f"This stream's block {layer} has no {hook_name!r}: value zeroing needs a "
            "self-attention with TransformerLens's value hook."
        )
    return view.blocks[layer], hook_name


def _seconds_per_position(view: AudioStream) -> float:
    spans = view.cell_seconds([[0]])
    if spans is None:
        raise ValueError(
            "This stream's positions are tokens: value-zeroing maps here are drawn over time, "
            "so they need an audio stream (e.g. model.encoder_stream(tokens))."
        )
    return float(spans[0][1] - spans[0][0])


def _block_call(view: AudioStream, block: torch.nn.Module, x: Tensor) -> tuple[tuple, dict, Tensor]:
    """Run `view` on `x` up to and including `block`: the block's exact arguments and output."""
    seen: dict[str, Any] = {}

    def record_inputs(module, args, kwargs):
        seen["args"], seen["kwargs"] = args, kwargs

    def record_output_and_stop(module, args, output):
        seen["output"] = output
        raise _StopAfterBlock

    handles = [
        block.register_forward_pre_hook(record_inputs, with_kwargs=True),
        block.register_forward_hook(record_output_and_stop),
    ]
    try:
        view(x)
    except _StopAfterBlock:
        pass
    finally:
        for handle in handles:
            handle.remove()
    if "output" not in seen:
        raise ValueError("The stream's forward never ran the chosen block on this input.")
    output = seen["output"]
    if not isinstance(output, Tensor) or output.ndim != 3:
        raise ValueError(
            "The chosen block does not return one [batch, pos, d_model] tensor; value zeroing "
            "compares the block's output and needs one."
        )
    if not torch.isfinite(output).all():
        raise ValueError(
            "The chosen block's output holds NaN or infinite values on this input; value "
            "zeroing needs a finite run: check the model's weights and earlier hooks."
        )
    return seen["args"], seen["kwargs"], output


def _zeroed_outputs(
    view: AudioStream,
    block: torch.nn.Module,
    hook_name: str,
    args: tuple,
    kwargs: dict,
    keys: list[int],
) -> Float[Tensor, "key pos d_model"]:
    """The block's output on `len(keys)` copies of its recorded input, copy `b` with the value
    vector of frame `keys[b]` zeroed in every head."""
    rows = torch.arange(len(keys))
    positions = torch.tensor(keys)

    def zero_values(v: Tensor, hook: Any) -> Tensor:
        v = v.clone()
        v[rows.to(v.device), positions.to(v.device)] = 0
        return v

    with view.hooks(fwd_hooks=[(hook_name, zero_values)]):
        return block(
            *[_repeated(a, len(keys)) for a in args],
            **{k: _repeated(v, len(keys)) for k, v in kwargs.items()},
        )


def _repeated(value: Any, n: int) -> Any:
    """A recorded batch-1 tensor argument as `n` rows; anything else unchanged."""
    if isinstance(value, Tensor) and value.ndim >= 1 and value.shape[0] == 1:
        return value.expand(n, *value.shape[1:])
    return value


def _query_positions(
    frames: Sequence[int] | None,
    seconds: tuple[float, float] | None,
    n_pos: int,
    step: float,
    duration: float | None,
) -> list[int]:
    if frames is not None and seconds is not None:
        raise ValueError("Give frames= (positions) or seconds= (a time range), not both.")
    if frames is not None:
        return _positions(frames, n_pos, "frames")
    if seconds is not None:
        return _seconds_positions(seconds, n_pos, step)
    if duration is None:
        return list(range(n_pos))
    return speech_frames(duration, n_pos, step)


def _positions(values: Sequence[int], n_pos: int, what: str) -> list[int]:
    if isinstance(values, Tensor):
        values = values.tolist()
    chosen = check_indices(list(values), n_pos, what)
    return sorted(chosen)


def _seconds_positions(seconds: tuple[float, float], n_pos: int, step: float) -> list[int]:
    """The positions whose `[p, p + 1) * step` overlaps `[start, end)`."""
    try:
        start, end = (float(s) for s in seconds)
    except (TypeError, ValueError):
        raise ValueError(f"seconds must be (start, end) in seconds, got {seconds!r}.") from None
    length = n_pos * step
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end <= length + 1e-9):
        raise ValueError(
            f"seconds=({start:g}, {end:g}) lies outside the input's 0-{length:.2f} s "
            f"({n_pos} frames of {step * 1000:g} ms): give 0 <= start < end <= {length:.2f}."
        )
    first = math.floor(start / step + 1e-9)
    last = min(n_pos, math.ceil(end / step - 1e-9))
    return list(range(first, last))


def _spectrogram(spectrogram: Tensor | None, x: Tensor) -> Tensor | None:
    """The log-mel to draw: the one given, else a framed log-mel input `[1, 2, n_mels, pos]`
    itself (the layout of Whisper-style streams), else None."""
    if spectrogram is not None:
        from hooked_audio.plots.spectrogram import as_log_mel

        return as_log_mel(spectrogram)
    if x.ndim == 4 and x.shape[1] == 2 and x.is_floating_point():
        from hooked_audio.plots.spectrogram import as_log_mel

        return as_log_mel(x)
    return None
