"""Does the audio LM listen, or guess from the text? The grounding coefficient.

For a clean and a corrupt input (same prompt length, audio at the same positions), patch
layer `l` of the language model at the audio positions only, at the text positions only, and
at both, and measure the effect on a metric. With `m_clean`, `m_corrupt` the metric on the
unpatched runs and `gap = m_clean - m_corrupt`, the effect of patching positions `X` is

    denoise (run corrupt, patch clean in):  e(X) = (m(patched) - m_corrupt) / gap
    noise   (run clean, patch corrupt in):  e(X) = (m_clean - m(patched)) / gap

so that in both directions 1 means "these positions carry the whole clean-vs-corrupt
difference" and 0 "none of it", whatever the metric's sign. The grounding coefficient is

    g(l) = e(audio) / (e(audio) + e(text))

1 = at layer `l` the behaviour is carried by the audio positions (the model listens), 0 = by
the text positions (the answer comes from the text, or has already been moved there).

Read it with care:
- Where `|e(audio) + e(text)| < tolerance` (neither patch moves the metric) the ratio is
  undefined and reported as NaN, not as a number made of noise.
- If the two effects have opposite signs the ratio leaves [0, 1]; it is reported as computed
  (no clipping) and `GroundingResult.mixed_sign` flags those layers.
- Information moves from audio to text positions as depth grows (text tokens attend to the
  audio), so g typically falls with depth even in a model that listens: compare layers, and
  read the early layers for "is the audio used at all". A text patch at layer 0 only changes
  what differs in the text itself; with identical clean and corrupt text it is exactly 0.
- Denoising asks whether the positions suffice, noising whether they are needed; in models
  with redundant routes they differ (see docs/patching.md). `e(both)` is reported too: the
  difference `e(both) - e(audio) - e(text)` is the interaction of the two routes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from hooked_audio.patching.directions import Direction
from hooked_audio.patching.position_sweep import Inputs, position_sweep
from hooked_audio.patching.sweep_result import SweepResult

CELL_LABELS = ("audio", "text", "audio+text")


def audio_text_cells(model, inputs: Inputs) -> list[Tensor]:
    """`[batch, pos]` masks of the audio positions, the (unpadded) text positions, and both."""
    audio = model.audio_positions(inputs["input_ids"])
    mask = inputs.get("attention_mask")
    real = torch.ones_like(audio) if mask is None else mask.bool()
    return [audio, real & ~audio, real]


def audio_text_sweep(
    model,
    clean: Inputs,
    corrupt: Inputs,
    metric: Callable[[Tensor], Tensor],
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Patch every layer at the audio positions, the text positions, and both: a
    `SweepResult` with the cells labelled "audio", "text", "audio+text"."""
    return position_sweep(
        model,
        clean,
        corrupt,
        metric,
        audio_text_cells(model, clean),
        CELL_LABELS,
        act=act,
        direction=direction,
        layers=layers,
        progress=progress,
    )


@dataclass
class GroundingResult:
    """Per-layer effects (fractions of the clean-vs-corrupt gap) and the coefficient."""

    layers: list[int]
    audio_effect: Float[Tensor, " layer"]
    text_effect: Float[Tensor, " layer"]
    both_effect: Float[Tensor, " layer"]
    coefficient: Float[Tensor, " layer"]
    tolerance: float
    sweep: SweepResult

    @property
    def mixed_sign(self) -> Tensor:
        """Layers where the audio and text effects point in opposite directions."""
        return (self.audio_effect * self.text_effect) < 0

    @property
    def interaction(self) -> Float[Tensor, " layer"]:
        """`e(both) - e(audio) - e(text)`: 0 when the two routes add up."""
        return self.both_effect - self.audio_effect - self.text_effect

    @classmethod
    def from_sweep(cls, sweep: SweepResult, tolerance: float = 0.05) -> GroundingResult:
        if list(sweep.cell_labels) != list(CELL_LABELS):
            raise ValueError(
                f"Expected a sweep with cells {CELL_LABELS} (from audio_text_sweep), "
                f"got {sweep.cell_labels}."
            )
        gap = sweep.clean_value - sweep.corrupt_value
        if abs(gap) < 1e-6:
            raise ValueError(
                "The clean and corrupt inputs give the same metric, so no effect can "
                "be measured: the corruption does not move this metric."
            )
        if sweep.direction == "denoise":
            effects = (sweep.values - sweep.corrupt_value) / gap
        else:
            effects = (sweep.clean_value - sweep.values) / gap
        audio, text, both = effects[:, 0], effects[:, 1], effects[:, 2]
        total = audio + text
        coefficient = torch.where(
            total.abs() < tolerance, torch.full_like(total, float("nan")), audio / total
        )
        return cls(sweep.layers, audio, text, both, coefficient, tolerance, sweep)

    def to_dataframe(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "layer": self.layers,
                "audio_effect": self.audio_effect.tolist(),
                "text_effect": self.text_effect.tolist(),
                "both_effect": self.both_effect.tolist(),
                "grounding": self.coefficient.tolist(),
                "mixed_sign": self.mixed_sign.tolist(),
            }
        )

    def plot(self, axes=None, title: str | None = None):
        """Top: the coefficient per layer (gaps where undefined). Bottom: the three effects."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(2, 1, sharex=True, figsize=(7, 5))
        top, bottom = axes
        top.plot(self.layers, self.coefficient.numpy(), marker="o", color="black")
        top.axhline(1, ls=":", c="grey")
        top.axhline(0, ls=":", c="grey")
        top.set_ylabel("grounding g")
        top.set_title(title or f"grounding coefficient ({self.sweep.direction}, {self.sweep.act})")
        for values, label in (
            (self.audio_effect, "audio"),
            (self.text_effect, "text"),
            (self.both_effect, "audio+text"),
        ):
            bottom.plot(self.layers, values.numpy(), marker=".", label=label)
        bottom.set_xlabel("layer")
        bottom.set_ylabel("effect (fraction of gap)")
        bottom.legend()
        return axes


def grounding_coefficient(
    model,
    clean: Inputs,
    corrupt: Inputs,
    metric: Callable[[Tensor], Tensor],
    act: str = "resid_pre",
    direction: Direction = "denoise",
    layers: Sequence[int] | None = None,
    tolerance: float = 0.05,
    progress: bool = True,
) -> GroundingResult:
    """Run `audio_text_sweep` and turn it into per-layer grounding coefficients (see the
    module docstring for the definition and its caveats)."""
    sweep = audio_text_sweep(
        model,
        clean,
        corrupt,
        metric,
        act=act,
        direction=direction,
        layers=layers,
        progress=progress,
    )
    return GroundingResult.from_sweep(sweep, tolerance)
