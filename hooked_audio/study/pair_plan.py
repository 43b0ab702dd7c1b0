"""A pair made ready for a study: its metric, cells and model inputs, or why it is left out.

A pair longer than the model's window is planned in the part its audio stream reads
(`family.pair_window`: on Whisper the one 30 s window where the clean and corrupt recordings
differ); the plan keeps where that window lies, and its cells' times are seconds of the
recording."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hooked_audio.models.family import ModelFamily, PairContrast
from hooked_audio.pairs import MinimalPair
from hooked_audio.patching.time_cells import TimeCells
from hooked_audio.study.pair_cells import pair_cells
from hooked_audio.study.spec import StudySpec
from hooked_audio.word_times.transcript_diff import bare_word


@dataclass
class PairPlan:
    """What a unit needs of its pair. It holds no model input: the framed inputs are made
    again by each unit (`frames`, a few ms), so a study of many pairs keeps only their audio
    and its rows in memory, not two windows of log-mel per pair."""

    pair: MinimalPair  # what the model reads: the pair, or its window of a longer recording
    contrast: PairContrast
    cells: TimeCells
    reference: tuple[float, float]  # the metric on the clean and the corrupt clip
    # each cell's (start, end) on the audio stream's 20 ms grid, as the sweeps report them, in
    # seconds of the recording (word cells' own times in `cells.seconds` are the TTS's, not
    # quantised to positions, and in seconds of `pair`)
    cell_seconds: list[tuple[float, float]]
    # where `pair` lies in the recording (seconds), which of its windows that is, of how many
    start_s: float
    end_s: float
    window: int
    n_windows: int

    @property
    def span_s(self) -> tuple[float, float]:
        """The changed word's span in seconds of the recording."""
        start, end = self.pair.spans_s[0]
        return start + self.start_s, end + self.start_s

    def frames(self, family: ModelFamily) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean and corrupt clips as the family's audio-stream inputs (on its device)."""
        return family.audio_inputs(self.pair.clean_audio), family.audio_inputs(
            self.pair.corrupt_audio
        )


def _misheard(family: ModelFamily, pair: MinimalPair, word: str) -> str | None:
    """Why the pair is left out when the model's transcript of the clean clip lacks the
    changed word; None when it hears it."""
    text = family.transcribe([pair.clean_audio])[0]
    if bare_word(word) in {bare_word(w) for w in text.split()}:
        return None
    return (
        f"the model hears {text!r} ({family.decoding}) for the clean clip ({pair.clean_text!r}), "
        "without the changed "
        f"word {word!r}: its recovery would measure a word the model does not hear "
        "(StudySpec(require_heard=False) / --keep-misheard studies it anyway)"
    )


def plan_pair(
    family: ModelFamily, pair: MinimalPair, spec: StudySpec
) -> tuple[PairPlan | None, dict | None]:
    """`(plan, None)` for a pair ready to sweep, or `(None, why)` for one left out (a pair
    the family cannot read, e.g. a long recording that differs in two windows, included)."""
    try:
        window = family.pair_window(pair)
        pair = window.pair
        contrast = family.pair_contrast(pair)
    except ValueError as error:
        return None, {"pair": pair.id, "reason": str(error)}
    view = family.audio_stream(contrast)
    clean = family.audio_inputs(pair.clean_audio)
    corrupt = family.audio_inputs(pair.corrupt_audio)
    metric = contrast.metric()
    with torch.no_grad():
        clean_value = float(metric(view(clean)))
        corrupt_value = float(metric(view(corrupt)))
    gap = clean_value - corrupt_value
    if not abs(gap) >= spec.min_gap:
        return None, {
            "pair": pair.id,
            "reason": f"clean-corrupt gap {gap:.3g} is below min_gap {spec.min_gap:g}: the "
            "corruption barely moves the metric, so recovery would be noise",
            "clean_value": clean_value,
            "corrupt_value": corrupt_value,
        }
    if spec.require_heard:
        misheard = _misheard(family, pair, contrast.clean_word)
        if misheard is not None:
            return None, {"pair": pair.id, "reason": misheard}
    cells = pair_cells(pair, spec.granularity, clean.shape[-1], family.seconds_per_position)
    shift = window.start_s
    cell_seconds = [(a + shift, b + shift) for a, b in view.cell_seconds(cells.cells)]
    plan = PairPlan(
        pair,
        contrast,
        cells,
        (clean_value, corrupt_value),
        cell_seconds,
        start_s=shift,
        end_s=window.end_s,
        window=window.window,
        n_windows=window.n_windows,
    )
    return plan, None
