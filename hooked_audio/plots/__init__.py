"""Plots of results, one per file (matplotlib, imported only when a plot is drawn).

- `sweep_heatmap.draw_sweep_heatmap`: layers x cells, each cell at its true time.
- `spectrogram.plot_log_mel`: a Whisper log-mel on a time axis in seconds.
- `sweep_figure.plot_sweep`: what `SweepResult.plot` draws (the heatmap, alone or under the
  log-mel with a shared time axis).
- `cross_attention.plot_cross_attention`: one head's cross-attention, query tokens x time,
  with words marked (`CrossAttentionMap.plot` of `hooked_audio.models.whisper`).
- `cka_heatmap.plot_cka_heatmap`: a layer x layer CKA matrix (`CKAResult.plot`).
- `context_mixing.plot_context_mixing`: a value-zeroing map, query x key time, with the log-mel
  along both time axes and words marked (`ContextMixingMap.plot`).
"""

from hooked_audio.plots.cross_attention import CrossAttentionPlot, plot_cross_attention
from hooked_audio.plots.spectrogram import as_log_mel, plot_log_mel
from hooked_audio.plots.sweep_figure import plot_sweep, token_tick_labels
from hooked_audio.plots.sweep_heatmap import SweepHeatmap, draw_sweep_heatmap

__all__ = [
    "CrossAttentionPlot",
    "SweepHeatmap",
    "as_log_mel",
    "draw_sweep_heatmap",
    "plot_cross_attention",
    "plot_log_mel",
    "plot_sweep",
    "token_tick_labels",
]
