"""`steering_sweep`: transcripts of a clip set with a direction added to one or more
activations (`hooked_audio.interventions.steering_hook`), at each strength of a sweep, scored
like an ablation study's rows (hallucination, words per second, repetition, WER/CER where the
clips have references). Strength 0 is the model as it is, and is always measured.

The direction can come from anywhere with the activation's width: a probe's
(`ProbeResults.direction`), an SAE feature's decoder row, a difference of class means. It is
scaled to unit length, so a strength is in the activation's own units: compare it with the
norm of the activation it is added to (the sweep's `activation_norm` column, the mean norm of
the steered activations at strength 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
import torch
from matplotlib.figure import Figure

from hooked_audio.ablation_study.clips import TranscriptClip, check_clips
from hooked_audio.ablation_study.result import POOLED
from hooked_audio.interventions import steering_hook
from hooked_audio.metrics.transcripts import clip_scores, text_normaliser
from hooked_audio.models.loading import model_family


@dataclass
class SteeringResult:
    """`rows`: one per strength and clip; `activation_norm`: the mean norm of the steered
    activations (each position of each hook) with nothing added."""

    rows: pd.DataFrame
    activation_norm: float

    def summary(self) -> pd.DataFrame:
        """One row per strength: the share of clips with any words (`hallucination`), mean
        words per second and repetition, and corpus WER/CER where references exist."""
        grouped = self.rows.groupby("strength")
        table = grouped[["hallucination", "words_per_second", "repetition"]].mean()
        for metric, (errors, length) in POOLED.items():
            if length in self.rows:
                sums = grouped[[errors, length]].sum()
                table[metric] = sums[errors] / sums[length].where(sums[length] > 0)
        return table

    def plot(self, metric: str = "hallucination") -> Figure:
        """`metric` against strength (strength 0 marked)."""
        table = self.summary()
        if metric not in table:
            raise ValueError(f"The sweep has no {metric!r}; it has {list(table.columns)}.")
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(table.index, table[metric], marker="o")
        ax.axvline(0, color="grey", linestyle=":", label="nothing added")
        ax.set_xlabel(f"strength (activation norm {self.activation_norm:.1f})")
        ax.set_ylabel(metric)
        ax.set_title(f"Steering: {metric} against strength")
        ax.legend()
        fig.tight_layout()
        return fig


def steering_sweep(
    model,
    clips: list[TranscriptClip],
    hook_names: str | Sequence[str],
    direction: torch.Tensor,
    strengths: Sequence[float],
    positions: Sequence[int] | None = None,
    normaliser: str = "english",
    batch_size: int = 16,
) -> SteeringResult:
    """Transcribe `clips` with `strength * direction / |direction|` added at every hook of
    `hook_names` (at `positions` of each, default all), for each of `strengths` and 0."""
    check_clips(clips, False, "")
    names = [hook_names] if isinstance(hook_names, str) else list(hook_names)
    if not names:
        raise ValueError("Name at least one hook to steer at.")
    unknown = [name for name in names if name not in model.hook_dict]
    if unknown:
        raise ValueError(f"Unknown hook names {unknown}; see model.hook_dict for the names.")
    values = sorted({0.0, *(float(s) for s in strengths)})
    transcriber = model_family(model).transcriber([clip.audio for clip in clips], batch_size)
    norms: list[torch.Tensor] = []

    def measure(activation: torch.Tensor, hook=None) -> None:
        norms.append(activation.detach().float().norm(dim=-1).flatten())

    normalise = text_normaliser(normaliser)
    rows = []
    for strength in values:
        if strength == 0:
            hooks = [(name, measure) for name in names]
        else:
            hooks = [(name, steering_hook(direction, strength, positions)) for name in names]
        texts = transcriber(hooks)
        for clip, text in zip(clips, texts, strict=True):
            scores = clip_scores(text, clip.seconds, clip.reference, normalise)
            rows.append({"strength": strength, "clip": clip.name, "transcript": text, **scores})
    return SteeringResult(pd.DataFrame(rows), float(torch.cat(norms).mean()))
