"""A pair made ready for a study: its metric, cells and model inputs, or why it is left out."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hooked_audio.pairs import MinimalPair
from hooked_audio.patching.time_cells import TimeCells
from hooked_audio.study.contrast import WordContrast, word_contrast
from hooked_audio.study.pair_cells import pair_cells
from hooked_audio.study.spec import StudySpec


@dataclass
class PairPlan:
    """What a unit needs of its pair. It holds no model input: the framed log-mels are made
    again by each unit (`frames`, a few ms), so a study of many pairs keeps only their audio
    and its rows in memory, not two windows of log-mel per pair."""

    pair: MinimalPair
    contrast: WordContrast
    cells: TimeCells
    reference: tuple[float, float]  # the metric on the clean and the corrupt clip
    # each cell's (start, end) on the encoder's 20 ms grid, as the sweeps report them (word
    # cells' own times in `cells.seconds` are the TTS's, not quantised to positions)
    cell_seconds: list[tuple[float, float]]

    def frames(self, model) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean and corrupt clips as `model`'s framed log-mel (on its device)."""
        return model.to_frames(self.pair.clean_audio), model.to_frames(self.pair.corrupt_audio)


def _misheard(model, pair: MinimalPair, word: str) -> str | None:
    """Why the pair is left out when the model's greedy transcript of the clean clip lacks the
    changed word; None when it hears it."""
    import whisper

    from hooked_audio.models.whisper.inference import greedy_options
    from hooked_audio.models.whisper.transcript_diff import bare_word

    with torch.no_grad():
        heard = whisper.decode(model, model.to_mel(pair.clean_audio)[0], greedy_options(model))
    text = heard.text.strip()
    if bare_word(word) in {bare_word(w) for w in text.split()}:
        return None
    return (
        f"the model hears {text!r} for the clean clip ({pair.clean_text!r}), without the changed "
        f"word {word!r}: its recovery would measure a word the model does not hear "
        "(StudySpec(require_heard=False) / --keep-misheard studies it anyway)"
    )


def plan_pair(model, pair: MinimalPair, spec: StudySpec) -> tuple[PairPlan | None, dict | None]:
    """`(plan, None)` for a pair ready to sweep, or `(None, why)` for one left out."""
    try:
        contrast = word_contrast(model, pair)
    except ValueError as error:
        return None, {"pair": pair.id, "reason": str(error)}
    clean, corrupt = model.to_frames(pair.clean_audio), model.to_frames(pair.corrupt_audio)
    metric = contrast.metric()
    with torch.no_grad():
        clean_value = float(metric(model(clean, contrast.tokens)))
        corrupt_value = float(metric(model(corrupt, contrast.tokens)))
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
        misheard = _misheard(model, pair, contrast.clean_word)
        if misheard is not None:
            return None, {"pair": pair.id, "reason": misheard}
    step = model.window_seconds / model.dims.n_audio_ctx
    cells = pair_cells(pair, spec.granularity, model.dims.n_audio_ctx, step)
    cell_seconds = model.encoder_stream(contrast.tokens).cell_seconds(cells.cells)
    return PairPlan(pair, contrast, cells, (clean_value, corrupt_value), cell_seconds), None
