"""Per-layer activations of one model on a set of clips, frames on a time grid: what CKA
compares, within one model or between two.

`layer_activations(view, inputs, name)` runs a stream view (any family: a Whisper encoder, a
wav2vec2 / HuBERT encoder, an audio LM's tower) on each clip and keeps, per layer, the frames
that hold the clip (not the padding of a 30 s window). `aligned_activations(a, b)` puts two
models' frames on one grid:

- Frame `p` of a stack is taken to cover `[p, p + 1) * seconds_per_frame` from the clip's start
  (`AudioPositions.cell_seconds`). Whisper's position `p` hears mel columns `2p, 2p + 1`; a
  wav2vec2 frame hears samples `320p .. 320p + 400`, so its centre lies 2.5 ms later than a
  Whisper frame's: both are read as the same 20 ms, an offset of an eighth of a frame.
- Different frame rates are pooled to the coarser one when one is a whole multiple of the
  other (20 ms frames averaged in pairs for a 40 ms stack); other ratios are refused, since
  interpolating would invent frames neither model computed.
- A clip's frame counts may differ by a frame or two between models (a Whisper clip of 10.01 s
  has 501 frames, wav2vec2 gives 500): both are cut to the shorter. Larger differences mean the
  clips are not the same, and are refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from hooked_audio.checks import check_count, check_layers
from hooked_audio.patching.time_cells import speech_frames
from hooked_audio.streams.protocol import AudioStream, StreamInput

#: frame-count differences per clip up to this many frames are rounding, beyond it a mismatch
MAX_FRAME_GAP = 2


@dataclass
class LayerActivations:
    """`clips[c][i]` is layer `layers[i]`'s activations `[frame, d]` on clip `c`, frame `p`
    covering `[p, p + 1) * seconds_per_frame` of the clip. `name` labels the model in results."""

    name: str
    layers: list[str]
    clips: list[Float[Tensor, "layer frame d"]]
    seconds_per_frame: float

    def __post_init__(self) -> None:
        self.layers = [str(layer) for layer in self.layers]
        if not self.layers or len(set(self.layers)) != len(self.layers):
            raise ValueError(
                f"{self.name}: layer labels must be unique and non-empty, got {self.layers}."
            )
        if not self.clips:
            raise ValueError(f"{self.name}: no clips; give at least one.")
        if not (isinstance(self.seconds_per_frame, (int, float)) and self.seconds_per_frame > 0):
            raise ValueError(
                f"{self.name}: seconds_per_frame must be a positive number (0.02 for 20 ms "
                f"frames), got {self.seconds_per_frame!r}."
            )
        for c, acts in enumerate(self.clips):
            if acts.ndim != 3 or acts.shape[0] != len(self.layers) or 0 in acts.shape:
                raise ValueError(
                    f"{self.name}: clip {c}'s activations must be [layer, frame, d] with "
                    f"{len(self.layers)} layers and at least one frame; got {tuple(acts.shape)}."
                )
            if not torch.isfinite(acts).all():
                raise ValueError(
                    f"{self.name}: clip {c}'s activations hold NaN or infinite values; "
                    "compute them from a finite run."
                )

    @property
    def frame_counts(self) -> list[int]:
        return [acts.shape[1] for acts in self.clips]

    def layer_matrix(self, index: int) -> Float[Tensor, "frame d"]:
        """Layer `layers[index]` over every clip's frames, one row per frame."""
        return torch.cat([acts[index] for acts in self.clips])

    def pooled(self, factor: int) -> LayerActivations:
        """Frames averaged in groups of `factor` (the last incomplete group dropped)."""
        factor = check_count(factor, "factor")
        clips = []
        for c, acts in enumerate(self.clips):
            n = acts.shape[1] // factor
            if n == 0:
                raise ValueError(
                    f"{self.name}: clip {c} has {acts.shape[1]} frames, fewer than one "
                    f"frame of {factor * self.seconds_per_frame:.3f} s."
                )
            clips.append(acts[:, : n * factor].unflatten(1, (n, factor)).mean(dim=2))
        return LayerActivations(self.name, self.layers, clips, self.seconds_per_frame * factor)

    def cut(self, counts: Sequence[int]) -> LayerActivations:
        """The first `counts[c]` frames of each clip `c`."""
        clips = [acts[:, :n] for acts, n in zip(self.clips, counts)]
        return LayerActivations(self.name, self.layers, clips, self.seconds_per_frame)


@torch.no_grad()
def layer_activations(
    view: AudioStream,
    inputs: Sequence[StreamInput],
    name: str,
    act: str = "resid_post",
    layers: Sequence[int] | None = None,
    durations: Sequence[float] | None = None,
    progress: bool = True,
) -> LayerActivations:
    """`blocks.{l}.hook_{act}` of `view` at `layers` (None: all) on each input (one clip each,
    batch 1, e.g. `model.to_frames(audio)`), keeping the frames that hold the clip:
    `durations[c]` seconds when given, else what `view.input_seconds` finds before the window's
    padding, else every frame."""
    if isinstance(inputs, Tensor):
        inputs = list(inputs.split(1))
    if not inputs:
        raise ValueError("inputs is empty: give one stream input per clip.")
    if durations is not None and len(durations) != len(inputs):
        raise ValueError(f"durations has {len(durations)} entries for {len(inputs)} inputs.")
    if act not in view.layer_acts:
        raise ValueError(
            f"act={act!r} is not an activation of this stream's blocks; choose one of "
            f"{list(view.layer_acts)}."
        )
    step = _seconds_per_frame(view)
    chosen = check_layers(layers, view.cfg.n_layers)
    names = [f"blocks.{layer}.hook_{act}" for layer in chosen]
    clips = []
    for c, x in enumerate(tqdm(inputs, desc=f"{name} activations", disable=not progress)):
        if x.shape[0] != 1:
            raise ValueError(
                f"Input {c} has batch {x.shape[0]}: give one clip per input (batch 1), so that "
                "each clip keeps its own frames."
            )
        _, cache = view.run_with_cache(x, names_filter=names)
        n_pos = cache[names[0]].shape[1]
        seconds = durations[c] if durations is not None else view.input_seconds(x)
        keep = n_pos if seconds is None else len(speech_frames(float(seconds), n_pos, step))
        clips.append(torch.stack([cache[n][0, :keep] for n in names]).float().cpu())
    return LayerActivations(name, [str(layer) for layer in chosen], clips, step)


def aligned_activations(
    a: LayerActivations, b: LayerActivations, max_frame_gap: int = MAX_FRAME_GAP
) -> tuple[LayerActivations, LayerActivations]:
    """`a` and `b` with their frames on one grid, clip by clip (module docstring): the finer
    pooled to the coarser rate, each clip cut to the shorter of its two frame counts."""
    if len(a.clips) != len(b.clips):
        raise ValueError(
            f"{a.name} has {len(a.clips)} clips and {b.name} {len(b.clips)}: compare the two "
            "models on the same clips, in the same order."
        )
    ratio = a.seconds_per_frame / b.seconds_per_frame
    if ratio >= 1:
        factor = round(ratio)
        if not math.isclose(ratio, factor, rel_tol=1e-6):
            _refuse_rates(a, b)
        b = b.pooled(factor) if factor > 1 else b
    else:
        factor = round(1 / ratio)
        if not math.isclose(1 / ratio, factor, rel_tol=1e-6):
            _refuse_rates(a, b)
        a = a.pooled(factor)
    for c, (n_a, n_b) in enumerate(zip(a.frame_counts, b.frame_counts)):
        if abs(n_a - n_b) > max_frame_gap:
            raise ValueError(
                f"Clip {c} has {n_a} frames in {a.name} and {n_b} in {b.name} "
                f"({a.seconds_per_frame * 1000:g} ms frames): more than {max_frame_gap} apart, "
                "so these are not the same clip; pass the same clips in the same order."
            )
    counts = [min(n_a, n_b) for n_a, n_b in zip(a.frame_counts, b.frame_counts)]
    return a.cut(counts), b.cut(counts)


def _refuse_rates(a: LayerActivations, b: LayerActivations) -> None:
    raise ValueError(
        f"{a.name} has {a.seconds_per_frame * 1000:g} ms frames and {b.name} "
        f"{b.seconds_per_frame * 1000:g} ms: neither is a whole multiple of the other, so "
        "their frames cannot be pooled onto one grid. Pool one of them yourself "
        "(LayerActivations.pooled) to a rate the other divides."
    )


def _seconds_per_frame(view: AudioStream) -> float:
    """The duration of one position of an audio stream (its first cell's span)."""
    spans = view.cell_seconds([[0]])
    if spans is None:
        raise ValueError(
            "This stream's positions are tokens, not frames of audio: time-aligned layer "
            "activations need an audio stream (e.g. model.encoder_stream(tokens))."
        )
    return float(spans[0][1] - spans[0][0])
