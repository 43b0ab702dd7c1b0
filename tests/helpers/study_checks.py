"""What every family's study must give: for one pair, the study's rows equal the engine's own
`layer_sweep` on the family's audio stream, and the word cells start at the pair's word
onsets."""

from __future__ import annotations

import numpy as np

from hooked_audio.models.loading import model_family
from hooked_audio.patching import layer_sweep
from hooked_audio.study.pair_cells import pair_cells


def assert_rows_are_the_engines(model, result, pair, layers, direction: str) -> None:
    family = model_family(model)
    contrast = family.pair_contrast(pair)
    clean, corrupt = family.audio_inputs(pair.clean_audio), family.audio_inputs(pair.corrupt_audio)
    cells = pair_cells(pair, "words", clean.shape[-1], family.seconds_per_position)
    direct = layer_sweep(
        family.audio_stream(contrast),
        clean,
        corrupt,
        contrast.metric(),
        direction=direction,
        layers=list(layers),
        cells=cells.cells,
        progress=False,
    )
    rows = result.rows.query("pair == @pair.id and direction == @direction and act == 'resid_pre'")
    table = rows.pivot(index="layer", columns="cell", values="value").to_numpy()
    assert np.allclose(table, direct.values.numpy(), atol=1e-5)
    starts = rows.groupby("cell")["start_s"].first().to_numpy()
    for start, (_, onset, _) in zip(starts, pair.meta["clean_words"], strict=True):
        assert abs(start - onset) <= family.seconds_per_position
