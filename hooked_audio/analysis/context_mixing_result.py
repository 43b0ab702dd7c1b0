"""`ContextMixingMap`: a value-zeroing map of one encoder layer over one clip, with what draws it
(`hooked_audio.analysis.value_zeroing` computes it)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from jaxtyping import Float
from torch import Tensor


@dataclass
class ContextMixingMap:
    """`scores[q, k]`: the share of query frame `query_positions[q]`'s mixing that comes from key
    frame `key_positions[k]` at block `layer` (rows sum to 1 over the keys computed; a row whose
    output no key changes is NaN). `distances` are the raw cosine distances before that
    normalisation. Frame `p` covers `[p, p + 1) * seconds_per_position` of the clip; `words`
    are `(word, start_s, end_s)` and `spectrogram` the clip's log-mel, for `plot`."""

    layer: int
    scores: Float[Tensor, "query key"]
    distances: Float[Tensor, "query key"]
    query_positions: list[int]
    key_positions: list[int]
    seconds_per_position: float
    words: list[tuple[str, float, float]]
    spectrogram: Float[Tensor, "n_mels mel_frames"] | None = None

    def to_dataframe(self) -> pd.DataFrame:
        """The scores as a table: rows = query frames, columns = key frames, each labelled by
        its start in seconds."""
        step = self.seconds_per_position
        return pd.DataFrame(
            self.scores.numpy(),
            index=pd.Index([round(p * step, 6) for p in self.query_positions], name="query s"),
            columns=pd.Index([round(p * step, 6) for p in self.key_positions], name="key s"),
        )

    def self_share(self) -> Float[Tensor, " query"]:
        """Per query frame, the share of its mixing that comes from itself (NaN where the query
        is not among the keys computed)."""
        import torch

        shares = torch.full((len(self.query_positions),), float("nan"), dtype=self.scores.dtype)
        key_index = {p: k for k, p in enumerate(self.key_positions)}
        for q, p in enumerate(self.query_positions):
            if p in key_index:
                shares[q] = self.scores[q, key_index[p]]
        return shares

    def plot(self, spectrogram: bool = True, title: str | None = None):
        """The map, query time down and key time across, with the clip's log-mel along both
        time axes (`spectrogram=False`, or none known: the map alone) and the words at their
        times; returns `hooked_audio.plots.context_mixing.ContextMixingPlot`."""
        from hooked_audio.plots.context_mixing import plot_context_mixing

        return plot_context_mixing(
            self.scores,
            self.query_positions,
            self.key_positions,
            self.seconds_per_position,
            words=self.words,
            spectrogram=self.spectrogram if spectrogram else None,
            title=title or f"value zeroing: context mixing at layer {self.layer}",
        )
