"""Layer x layer CKA, within one model or between two on the same clips.

    acts = layer_activations(model.encoder_stream(tokens), frames, "tiny.en")
    cka_matrix(acts).plot()                 # tiny.en's layers against each other
    cka_matrix(acts, other_acts).plot()     # tiny.en's layers (rows) against another model's

Samples are frames: every frame of every clip, the two models' frames aligned in time by
`aligned_activations` (see `hooked_audio.analysis.layer_activations`). The estimator is
`linear_cka`'s (debiased by default; `hooked_audio.analysis.cka` says why).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from hooked_audio.analysis.cka import SelfTerms, cka_from_terms
from hooked_audio.analysis.layer_activations import LayerActivations, aligned_activations


@dataclass
class CKAResult:
    """`values.loc[row_layer, column_layer]`: CKA of `row_model`'s layer with `column_model`'s,
    over `n_frames` frames of `seconds_per_frame`."""

    values: pd.DataFrame
    row_model: str
    column_model: str
    debiased: bool
    n_frames: int
    seconds_per_frame: float

    def plot(self, ax=None, title: str | None = None, annotate: bool = True):
        """The matrix as a heatmap, rows and columns labelled with the layers; returns
        `hooked_audio.plots.cka_heatmap.CKAHeatmap`."""
        from hooked_audio.plots.cka_heatmap import plot_cka_heatmap

        estimator = "debiased" if self.debiased else "linear"
        return plot_cka_heatmap(
            self.values,
            row_name=f"{self.row_model} layer",
            column_name=f"{self.column_model} layer",
            title=title
            or f"{estimator} CKA, {self.n_frames} frames of {self.seconds_per_frame * 1000:g} ms",
            ax=ax,
            annotate=annotate,
        )


def cka_matrix(
    a: LayerActivations,
    b: LayerActivations | None = None,
    debiased: bool = True,
    progress: bool = True,
) -> CKAResult:
    """CKA of every layer of `a` with every layer of `b` (None: of `a` itself), on the same
    frames. Two models' frames are aligned first (`aligned_activations`)."""
    if b is None:
        b = a
    else:
        a, b = aligned_activations(a, b)
    bar = tqdm(total=len(a.layers) + len(b.layers), desc="CKA terms", disable=not progress)
    terms_a = [_terms(a, i, debiased, bar) for i in range(len(a.layers))]
    terms_b = terms_a if b is a else [_terms(b, j, debiased, bar) for j in range(len(b.layers))]
    bar.close()
    rows = []
    for i, row in enumerate(terms_a):
        rows.append(
            [
                cka_from_terms(row, column, debiased, _name(a, i), _name(b, j))
                for j, column in enumerate(terms_b)
            ]
        )
    values = pd.DataFrame(
        rows,
        index=pd.Index(a.layers, name=f"{a.name} layer"),
        columns=pd.Index(b.layers, name=f"{b.name} layer"),
    )
    return CKAResult(values, a.name, b.name, debiased, sum(a.frame_counts), a.seconds_per_frame)


def _terms(acts: LayerActivations, index: int, debiased: bool, bar) -> SelfTerms:
    matrix = acts.layer_matrix(index).double()
    if matrix.shape[0] < (4 if debiased else 2):
        raise ValueError(
            f"{acts.name} has {matrix.shape[0]} frames in all: too few for CKA "
            f"(the {'debiased' if debiased else 'linear'} estimator needs "
            f"{4 if debiased else 2}); give longer or more clips."
        )
    bar.update()
    return SelfTerms.of(matrix, debiased)


def _name(acts: LayerActivations, index: int) -> str:
    return f"{acts.name} layer {acts.layers[index]}"
