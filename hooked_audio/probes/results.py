"""`ProbeResults`: what `train_probes` returns. Per hook (layer and site): held-out accuracy
and balanced accuracy with clip-bootstrap intervals and the chance levels (`table`), every
held-out prediction (`predictions`), the probe fitted on all labelled clips (`probe`), its
direction in the model's coordinates (`direction`) and a figure per layer (`plot`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from hooked_audio.checks import as_index
from hooked_audio.probes.direction import probe_direction


@dataclass
class ProbeResults:
    """`table`: one row per hook: hook, layer, site, accuracy (+ `_low`/`_high`),
    balanced_accuracy (+ `_low`/`_high`), chance_accuracy (the majority class's share of the
    held-out rows), chance_balanced (1 / classes), rows, clips, converged (every fit reached
    scikit-learn's tolerance). `predictions`: one row per hook and labelled row: hook, clip,
    time_s, label, predicted, fold. `folds[i]`: the clips fold `i` held out."""

    name: str
    classes: list[str]
    table: pd.DataFrame
    predictions: pd.DataFrame
    probes: dict = field(repr=False)  # hook -> fitted sklearn Pipeline (all labelled clips)
    folds: list[list[str]]
    confidence: float

    def hook(self, layer: int | str) -> str:
        """The hook meant by `layer`: a stored hook's name, or a layer number when one probed
        hook sits at that layer."""
        if isinstance(layer, str):
            if layer not in self.probes:
                raise ValueError(f"No probe on {layer!r}; probed hooks: {list(self.probes)}.")
            return layer
        layer = as_index(layer, "A layer")
        at = list(self.table.loc[self.table["layer"] == layer, "hook"])
        if len(at) != 1:
            problem = "several probed hooks" if at else "no probed hook"
            raise ValueError(
                f"Layer {layer} has {problem} ({at}); probed layers: "
                f"{sorted(self.table['layer'].dropna().astype(int).unique().tolist())}. Name "
                f"the hook instead: one of {list(self.probes)}."
            )
        return at[0]

    def probe(self, layer: int | str):
        """The probe of `layer` (a hook name, or a layer number), fitted on all labelled clips:
        a scikit-learn Pipeline (StandardScaler, LogisticRegression) on the hook's features."""
        return self.probes[self.hook(layer)]

    def direction(
        self, layer: int | str, towards: str | None = None, unit: bool = True
    ) -> torch.Tensor:
        """`[features]` float32: the probe's direction at `layer` in the model's activation
        coordinates (the store's features, e.g. d_model for hook_resid_post), pointing TOWARDS
        class `towards` (default: the positive class, `classes[1]` of two; "speech" for speech
        vs non-speech): adding it to the activation raises that class's probability. Unit
        length; `unit=False` gives the logit's gradient (see `hooked_audio.probes.direction`)."""
        return probe_direction(self.probe(layer), towards, unit)

    def plot(self, metric: str = "accuracy", ax=None):
        """A matplotlib Figure of `metric` ("accuracy" or "balanced_accuracy") per layer, one
        line per site, with its interval as a band and the chance level dashed."""
        from hooked_audio.probes.plot import plot_probe_results

        return plot_probe_results(self, metric, ax)
