"""Align a user's own corrupt recording onto the clean recording's timeline.

Activation patching needs clean and corrupt inputs whose frames line up in time. Two
separate recordings of (nearly) the same sentence never do: people speak at different
rates. :func:`align_pair` fixes that with dynamic time warping (DTW) on Whisper's own
log-mel features and then time-warps the corrupt *waveform* so that it has exactly the
clean clip's sample count, with each 10 ms clean frame filled by the corrupt frame DTW
matched to it.

Method:

* Features: ``whisper.audio.log_mel_spectrogram(audio, 80)`` (25 ms window, 10 ms hop,
  frame ``i`` centred on sample ``160 * i``; Whisper's normalisation: ``log10``, floored
  at the clip maximum minus 8, then ``(x + 4) / 4``), transposed to ``[frames, 80]``.
* Local cost: RMS difference between two frames, ``||a - b|| / sqrt(80)``, in Whisper's
  normalised log-mel units (1 unit = 4 decades of power = 40 dB).
* DTW: the standard symmetric step pattern ``(1, 0), (0, 1), (1, 1)``, all weight 1, from
  ``(0, 0)`` to ``(last, last)``, no band constraint; ties prefer the diagonal. Computed
  in numpy, vectorised along anti-diagonals (memory ``O(n * m)``; clips up to about 60 s
  each are accepted).
* Warping: overlap-add with a periodic Hann window of 2 hops (320 samples) at a 160-sample
  hop, whose shifted copies sum to exactly 1. Output frame ``i`` (centred on clean sample
  ``160 * i``) is the 320 corrupt samples centred on ``160 * j``, where ``j`` is the mean
  (rounded) of the corrupt frames DTW matched to clean frame ``i``. Stretches repeat
  corrupt material and compressions skip some; no pitch-synchronous search is done, so
  expect mild phasing artefacts where the rate differs a lot.

Score: mean local cost per path step (same units as above). Aligning a clip with itself
gives exactly 0; the same utterance at another speed or by another take gives a small
value (around 0.1 to 0.2 for a 10% speed change of speech); unrelated audio (speech
against white noise) gives clearly more (around 0.4 and up). Use it to catch pairs that
are not the same sentence; it is not calibrated across recording conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hooked_audio.audio.errors import AudioInputError
from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import HOP_LENGTH as HOP
from hooked_audio.corruptions._checks import SAMPLE_RATE, as_audio, check_audio, check_rate

MIN_FRAMES = 3
MAX_CELLS = 40_000_000  # DTW cost matrix cells (~60 s x 60 s)

__all__ = ["AlignedPair", "align_pair"]


@dataclass
class AlignedPair:
    """Result of :func:`align_pair`.

    Attributes:
        clean: the clean waveform (float32 16 kHz :class:`Audio` copy of the input).
        warped: the corrupt waveform time-warped onto the clean timeline (16 kHz
            :class:`Audio`); exactly ``len(clean)`` samples.
        path: ``int64 [n_steps, 2]`` DTW warping path of ``(clean_frame, corrupt_frame)``
            pairs (10 ms frames), monotone, from ``(0, 0)`` to ``(last, last)``.
        score: mean RMS log-mel distance per path step; 0 for identical audio, larger is
            worse (see the module docstring for the scale).
    """

    clean: Audio
    warped: Audio
    path: np.ndarray
    score: float

    def offset_ms(self, exclude_s: Sequence[tuple[float, float]] = ()) -> float:
        """Mean distance of the DTW path from the diagonal, in ms (10 ms per frame): how far
        the corrupt audio's events sit from the clean ones before warping. Near 0 for a pair
        already on one timeline (DTW still wanders a frame or two between similar frames).
        Path steps whose clean frame lies in a span of `exclude_s` (seconds; e.g. a word that
        differs on purpose, where DTW has nothing to match) are left out."""
        clean_s = self.path[:, 0] * HOP / SAMPLE_RATE
        keep = np.ones(len(self.path), dtype=bool)
        for start, end in exclude_s:
            keep &= (clean_s < start) | (clean_s >= end)
        if not keep.any():
            return 0.0
        steps = self.path[keep]
        return float(np.abs(steps[:, 0] - steps[:, 1]).mean() * 1000 * HOP / SAMPLE_RATE)


def _log_mel(x: np.ndarray) -> np.ndarray:
    import torch
    import whisper.audio

    mel = whisper.audio.log_mel_spectrogram(torch.from_numpy(x), 80)
    return mel.T.contiguous().numpy().astype(np.float64)


def _cost_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    np.maximum(sq, 0.0, out=sq)
    return np.sqrt(sq / a.shape[1])


def _dtw(cost: np.ndarray) -> tuple[np.ndarray, float]:
    n, m = cost.shape
    D = np.full((n + 1, m + 1), np.inf)
    D[0, 0] = 0.0
    step = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0 diag, 1 from (i-1, j), 2 from (i, j-1)
    for k in range(2, n + m + 1):
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        cand = np.stack([D[i - 1, j - 1], D[i - 1, j], D[i, j - 1]])
        arg = np.argmin(cand, axis=0)  # first minimum: the diagonal wins ties
        D[i, j] = cost[i - 1, j - 1] + cand[arg, np.arange(i.size)]
        step[i, j] = arg
    i, j = n, m
    path = []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        s = step[i, j]
        if s == 0:
            i, j = i - 1, j - 1
        elif s == 1:
            i -= 1
        else:
            j -= 1
    path.reverse()
    p = np.asarray(path, dtype=np.int64)
    local = cost[p[:, 0], p[:, 1]]
    return p, float(local.mean())


def _warp(clean_len: int, corrupt: np.ndarray, path: np.ndarray, n_clean_frames: int) -> np.ndarray:
    n_corrupt_frames = int(path[-1, 1]) + 1
    sums = np.zeros(n_clean_frames)
    counts = np.zeros(n_clean_frames)
    np.add.at(sums, path[:, 0], path[:, 1])
    np.add.at(counts, path[:, 0], 1)
    jmap = np.rint(sums / counts).astype(np.int64)
    # frames needed so that every output sample gets both overlapping windows
    n_synth = (clean_len - 1) // HOP + 2
    if n_synth > n_clean_frames:
        extra = np.arange(1, n_synth - n_clean_frames + 1)
        jmap = np.concatenate([jmap, np.minimum(jmap[-1] + extra, n_corrupt_frames + 1)])
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * HOP) / (2 * HOP))).astype(np.float64)
    padded = np.zeros(HOP + corrupt.size + (int(jmap.max()) + 2) * HOP)
    padded[HOP : HOP + corrupt.size] = corrupt
    out = np.zeros((n_synth + 1) * HOP)  # out[k] is clean sample k - HOP
    for i, j in enumerate(jmap):
        out[i * HOP : i * HOP + 2 * HOP] += win * padded[j * HOP : j * HOP + 2 * HOP]
    return out[HOP : HOP + clean_len].astype(np.float32)


def align_pair(
    clean: np.ndarray,
    corrupt: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    hop_s: float = 0.01,
) -> AlignedPair:
    """DTW-align ``corrupt`` to ``clean`` and time-warp it onto the clean timeline.

    Args:
        clean: mono float32 waveform at 16 kHz (the timeline to keep).
        corrupt: mono float32 waveform at 16 kHz of (nearly) the same utterance, any length.
        sample_rate: must be 16000.
        hop_s: analysis hop; must be 0.01 (Whisper's 10 ms mel hop).

    Returns:
        :class:`AlignedPair` with ``warped`` of exactly ``len(clean)`` samples.

    Raises:
        AudioInputError: wrong rate or hop, empty / non-1-D / NaN audio, a clip shorter
            than 3 frames (480 samples), or clips too long for the DTW matrix.
    """
    fn = "align_pair"
    check_rate(sample_rate, fn)
    if isinstance(hop_s, bool) or not isinstance(hop_s, (int, float)) or abs(hop_s - 0.01) > 1e-12:
        raise AudioInputError(
            f"{fn}: hop_s must be 0.01 (Whisper's 10 ms log-mel hop), got {hop_s!r}."
        )
    x = check_audio(clean, fn, "clean")
    y = check_audio(corrupt, fn, "corrupt")
    for name, arr in (("clean", x), ("corrupt", y)):
        if arr.size // HOP < MIN_FRAMES:
            raise AudioInputError(
                f"{fn}: {name} has {arr.size} samples, shorter than {MIN_FRAMES} frames of "
                f"10 ms ({MIN_FRAMES * HOP} samples at 16 kHz); pass longer clips."
            )
    fx, fy = _log_mel(x), _log_mel(y)
    if fx.shape[0] * fy.shape[0] > MAX_CELLS:
        raise AudioInputError(
            f"{fn}: clips of {x.size / SAMPLE_RATE:.1f} s and {y.size / SAMPLE_RATE:.1f} s "
            f"need a {fx.shape[0]} x {fy.shape[0]} DTW matrix, over the {MAX_CELLS} cell "
            "limit; cut the recordings into shorter utterances (under about 60 s) first."
        )
    cost = _cost_matrix(fx, fy)
    if fx.shape == fy.shape and np.array_equal(fx, fy):
        np.fill_diagonal(cost, 0.0)  # identical inputs: exact 0, not expansion rounding noise
    path, score = _dtw(cost)
    warped = _warp(x.size, y, path, fx.shape[0])
    return AlignedPair(clean=as_audio(x), warped=as_audio(warped), path=path, score=score)
