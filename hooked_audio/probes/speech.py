"""Speech vs non-speech per stored row, from the clips' word times.

Rule: a row is "speech" when its 20 ms position starts inside one of its clip's words (the
store's `word` column, filled from the word times when the store was written), and
"non-speech" otherwise (the lead-in silence, pauses between words, the tail). A clip with no
word in any row has no word times to go by: it is non-speech only when named in
`non_speech_clips` (noise or silence clips); otherwise it is refused, or left out with
`skip_wordless=True` (a speech clip without word times, such as the bundled `jfk`)."""

from __future__ import annotations

import numpy as np

from hooked_audio.probes.labels import ProbeLabels
from hooked_audio.probes.store_rows import check_clip_names, store_rows

SPEECH, NON_SPEECH = "speech", "non-speech"


def speech_labels(store, non_speech_clips=(), skip_wordless: bool = False) -> ProbeLabels:
    """`"speech"` / `"non-speech"` per row of `store` (see the module docstring). The positive
    class of a probe on these labels (the direction's sign) is "speech"."""
    rows = store_rows(store)
    non_speech = set(check_clip_names(store, non_speech_clips, "non_speech_clips"))
    has_word = rows["word"].notna().to_numpy()
    worded = set(rows.loc[has_word, "clip"])
    spoken_noise = sorted(non_speech & worded)
    if spoken_noise:
        raise ValueError(
            f"non_speech_clips {spoken_noise} have word times (rows inside words): they are not "
            "non-speech clips. Leave them out of non_speech_clips."
        )
    wordless = sorted(set(store.clips) - worded - non_speech)
    if wordless and not skip_wordless:
        raise ValueError(
            f"Clips {wordless} have no word times, so their rows cannot be told speech or "
            "non-speech. Name the noise/silence ones in non_speech_clips, or pass "
            "skip_wordless=True to leave them out."
        )
    values = np.where(has_word, SPEECH, NON_SPEECH).astype(object)
    values[rows["clip"].isin(wordless).to_numpy()] = None
    labels = ProbeLabels.from_rows("speech", rows, values)
    labels.check_classes()
    return labels
