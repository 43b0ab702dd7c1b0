"""Speaker per stored row: one label per clip (`speakers[clip_id]`), given to all its rows.

Held-out clips only test a speaker probe when each speaker has several clips (a speaker whose
only clip is held out was never seen in training); `train_probes` splits by clip, so give each
speaker two clips or more."""

from __future__ import annotations

from collections.abc import Mapping

from hooked_audio.probes.labels import ProbeLabels
from hooked_audio.probes.store_rows import check_clip_names, store_rows


def speaker_labels(store, speakers: Mapping[str, str], speech_only: bool = False) -> ProbeLabels:
    """`speakers[clip]` for every row of that clip; clips missing from `speakers` are left out.
    `speech_only=True` leaves out rows outside the clip's words too (silence has no voice)."""
    if not isinstance(speakers, Mapping):
        raise TypeError(f"speakers must map clip ids to speaker names, got {type(speakers)}.")
    check_clip_names(store, list(speakers), "speakers")
    rows = store_rows(store)
    values = rows["clip"].map({c: str(s) for c, s in speakers.items()})
    if speech_only:
        values = values.where(rows["word"].notna())
    labels = ProbeLabels.from_rows("speaker", rows, values)
    labels.check_classes()
    return labels
