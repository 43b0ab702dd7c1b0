"""The dashboard's matplotlib figures.

- `example_figure`: one top example of a feature: the log-mel of its clip around the example's
  frame (`context_s` each side, clipped to the clip), the feature's activation over that span
  on a second axis, each position drawn over its true 20 ms (position `p` of window `w` covers
  `w * 30 + [p, p + 1) * 0.02` s from the clip's start), the clip's words at their times, and
  the example's frame marked.
- `density_figure`: a histogram of log10 feature density over the features that fired, the
  dead ones counted in the title.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hooked_audio.activation_store.clips import StoreClip
from hooked_audio.activation_store.store import ActivationStore
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.plots.spectrogram import SECONDS_PER_MEL_FRAME
from hooked_audio.sae.dashboard.examples import FeatureExample, encode_rows, store_hook

#: seconds of audio each side of an example's frame in its snippet and figure
CONTEXT_S = 1.0
ACTIVATION_COLOUR = "#37d2ff"
FRAME_COLOUR = "#9cff57"
WORD_EDGE_STYLE = {"color": "white", "linewidth": 0.6, "linestyle": ":", "alpha": 0.7}


def snippet_span(time_s: float, clip_seconds: float, context_s: float = CONTEXT_S):
    """`(start_s, end_s)`: `context_s` either side of `time_s`, clipped to the clip."""
    return max(0.0, time_s - context_s), min(clip_seconds, time_s + context_s)


class ClipMels:
    """Whisper log-mels of clips' windows, each computed once, as the encoder saw them: each
    window of a clip (30 s, the last one zero-padded) on its own."""

    def __init__(self, n_mels: int = 80, window_seconds: float = 30.0):
        self.n_mels = n_mels
        self.window_seconds = float(window_seconds)
        self._mels: dict[tuple[str, int], np.ndarray] = {}

    @property
    def columns_per_window(self) -> int:
        return round(self.window_seconds / SECONDS_PER_MEL_FRAME)

    def window(self, clip: StoreClip, index: int) -> np.ndarray:
        """Window `index` of `clip`'s log-mel, `[n_mels, columns_per_window]`."""
        key = (clip.id, index)
        if key not in self._mels:
            from hooked_audio.models.whisper.front_end import log_mel

            samples = round(self.window_seconds * SAMPLE_RATE)
            audio = np.asarray(clip.audio, dtype=np.float32)
            part = audio[index * samples : (index + 1) * samples]
            self._mels[key] = log_mel([part], self.n_mels, n_samples=samples)[0].numpy()
        return self._mels[key]

    def crop(self, clip: StoreClip, start_s: float, end_s: float) -> tuple[np.ndarray, float]:
        """The log-mel columns covering `[start_s, end_s)` of `clip` (across windows if it
        spans two) and the time their first column starts at."""
        first = math.floor(start_s / SECONDS_PER_MEL_FRAME + 1e-6)
        stop = max(first + 1, math.ceil(end_s / SECONDS_PER_MEL_FRAME - 1e-6))
        per = self.columns_per_window
        parts = []
        for index in range(first // per, (stop - 1) // per + 1):
            mel = self.window(clip, index)
            parts.append(mel[:, max(first - index * per, 0) : min(stop - index * per, per)])
        return np.concatenate(parts, axis=1), first * SECONDS_PER_MEL_FRAME


def crop_activations(
    sae: Any,
    store: ActivationStore,
    hook: str,
    clip: str,
    feature: int,
    start_s: float,
    end_s: float,
) -> pd.DataFrame:
    """`feature`'s activation on every stored row of `clip` whose 20 ms overlaps
    `[start_s, end_s)`: columns window, position, time_s, value (in time order)."""
    frame = store.frame(hook, clip)
    step = store.seconds_per_position
    keep = ((frame["time_s"] + step > start_s) & (frame["time_s"] < end_s)).to_numpy()
    rows = np.flatnonzero(keep)
    values = store.array(hook, clip)[rows] if len(rows) else np.zeros((0, sae.cfg.d_in))
    acts = encode_rows(sae, values, np.array([feature]))[:, 0] if len(rows) else np.zeros(0)
    out = frame.iloc[rows][["window", "position", "time_s"]].reset_index(drop=True)
    out["value"] = acts.astype(np.float64)
    return out.sort_values("time_s", kind="stable").reset_index(drop=True)


def stairs(times: np.ndarray, values: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """A line through `(t, v), (t + step, v)` for each position: its value over its span."""
    x = np.repeat(np.asarray(times, dtype=np.float64), 2)
    x[1::2] += step
    return x, np.repeat(np.asarray(values, dtype=np.float64), 2)


def example_figure(
    sae: Any,
    store: ActivationStore,
    example: FeatureExample,
    clip: StoreClip,
    hook: str | None = None,
    context_s: float = CONTEXT_S,
    mels: ClipMels | None = None,
):
    """`example`'s figure (module docstring). `clip`: the store clip `example.clip` with its
    audio; `mels`: a `ClipMels` shared across figures (default: a fresh 80-mel one)."""
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    if clip.id != example.clip:
        raise ValueError(
            f"The example is in clip {example.clip!r}, but clip {clip.id!r} was given."
        )
    hook = store_hook(sae, store, hook)
    mels = mels or ClipMels(window_seconds=store.manifest.get("window_seconds", 30.0))
    step = store.seconds_per_position
    start, end = snippet_span(example.time_s, clip.seconds, context_s)
    acts = crop_activations(sae, store, hook, clip.id, example.feature, start, end)
    mel, mel_start = mels.crop(clip, start, end)

    fig, ax = plt.subplots(figsize=(6.2, 2.5), layout="constrained")
    n_mels = mel.shape[0]
    mel_end = mel_start + mel.shape[1] * SECONDS_PER_MEL_FRAME
    ax.imshow(
        mel,
        origin="lower",
        aspect="auto",
        cmap="magma",
        interpolation="nearest",
        extent=(mel_start, mel_end, -0.5, n_mels - 0.5),
    )
    ax.set_xlim(start, end)
    ax.set_xlabel("time from the clip's start (s)")
    ax.set_ylabel("mel bin")
    for word, w_start, w_end in clip.words:
        if w_end <= start or w_start >= end:
            continue
        for edge in (w_start, w_end):
            if start < edge < end:
                ax.axvline(edge, **WORD_EDGE_STYLE)
        centre = (max(w_start, start) + min(w_end, end)) / 2
        ax.text(
            centre,
            1.02,
            word,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
            clip_on=False,
            gid="word",
        )

    curve = ax.twinx()
    x, y = stairs(acts["time_s"], acts["value"], step)
    curve.axvspan(example.time_s, example.time_s + step, color=FRAME_COLOUR, alpha=0.45, lw=0)
    outline = [patheffects.Stroke(linewidth=3.0, foreground="black"), patheffects.Normal()]
    curve.plot(x, y, color=ACTIVATION_COLOUR, lw=1.6, path_effects=outline, gid="activation")
    curve.plot(
        [example.time_s + step / 2],
        [example.value],
        marker="v",
        markersize=7,
        color=FRAME_COLOUR,
        markeredgecolor="black",
        linestyle="none",
        gid="example",
    )
    top = max(float(np.nanmax(y)) if len(y) else 0.0, example.value, 0.0)
    curve.set_ylim(0.0, top * 1.12 if top > 0 else 1.0)
    curve.set_xlim(start, end)
    curve.set_ylabel(f"feature {example.feature}", color=ACTIVATION_COLOUR)
    word = f" ({example.word!r})" if example.word else ""
    ax.set_title(
        f"feature {example.feature}: {example.value:.3g} at {example.time_s:.2f} s{word} "
        f"in {clip.id}",
        fontsize=9,
        pad=14 if clip.words else 6,
    )
    return fig


def density_figure(density: np.ndarray, rows: int | None = None, bins: int = 40):
    """A histogram of log10 density over the features that fired (`density`: one value per
    feature, the fraction of rows where it is > 0); how many never fired is in the title."""
    import matplotlib.pyplot as plt

    density = np.asarray(density, dtype=np.float64)
    live = density[density > 0]
    dead = int((density == 0).sum())
    fig, ax = plt.subplots(figsize=(7.2, 2.8), layout="constrained")
    if len(live):
        ax.hist(np.log10(live), bins=min(bins, max(5, len(live))), color="#4a6fa5", gid="live")
    else:
        ax.text(0.5, 0.5, "no feature fired", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("log10 density (fraction of rows where the feature is > 0)")
    ax.set_ylabel("features")
    over = f" over {rows:,} rows" if rows is not None else ""
    ax.set_title(
        f"Feature density{over}: {len(live)} of {len(density)} features fired; "
        f"{dead} dead (never > 0, not in the histogram)",
        fontsize=9,
    )
    return fig
