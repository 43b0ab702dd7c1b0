"""Cells of audio positions in an audio-LM prompt, by time window."""

from __future__ import annotations

from torch import Tensor


def audio_window_cells(
    model, input_ids: Tensor, seconds: float
) -> tuple[list[Tensor], list[str], list[tuple[float, float]]]:
    """Masks of the audio positions in consecutive windows of `seconds` (measured from each
    row's first audio placeholder), their labels and `(start, end)` times: cells for
    `position_sweep` that ask *when* in the clip the language model reads the answer."""
    audio = model.audio_positions(input_ids)
    step = model.config.seconds_per_audio_token
    if seconds < step:
        raise ValueError(f"Windows must span at least one audio position ({step * 1000:.0f} ms).")
    index = audio.long().cumsum(-1) - 1  # index of each audio position within its row
    per_window = max(1, int(round(seconds / step)))
    n_windows = int(audio.sum(-1).max()) // per_window + bool(int(audio.sum(-1).max()) % per_window)
    masks, labels, spans = [], [], []
    for w in range(n_windows):
        mask = audio & (index >= w * per_window) & (index < (w + 1) * per_window)
        start, end = w * per_window * step, (w + 1) * per_window * step
        masks.append(mask)
        labels.append(f"{start:.2f}-{end:.2f}s")
        spans.append((start, end))
    return masks, labels, spans
