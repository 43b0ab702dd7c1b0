"""Duration-controlled pairs: stretch every word of the corrupt speech onto the clean word.

espeak-ng reports where each word starts on both sides of a pair (`Speech.words`), so
instead of a frame-wise DTW warp (`align_pair`) the corrupt speech can be cut at its word
boundaries and each piece time-stretched to exactly the length of the matching clean piece:

    clean    |lead| And |so| my |fellow| Americans |pause| ask | ... | you |tail|
    corrupt  |lead| And |so| my |fellow|  Germans  |pause| ask | ... | you |tail|
               each corrupt piece -> exactly the clean piece's sample count

Pieces: the lead-in before the first word, each word, the pause after a word when *both*
sides have one (otherwise the pause stays inside the word), and the tail after the last
word's sound. Boundaries land on the clean sample positions exactly, so the 20 ms frames
of every word line up; only the inside of a piece is stretched uniformly.

Stretching: Praat's PSOLA ("Lengthen (overlap-add)") through `praat-parselmouth`, already
the backend of `pitch_shift` / `formant_shift` (see `hooked_audio.corruptions.pitch` for
why parselmouth rather than pyworld). PSOLA repeats or drops whole pitch periods, so pitch
and formants are kept, unlike resampling, which would shift both with the stretch factor.
Praat caps the factor at 3 (larger requests are silently clipped), so a piece may be
stretched between 1/3 and 3 times; beyond about 1.5 x the result sounds processed. Each
piece is stretched with 50 ms of its neighbours as context (PSOLA needs a few pitch
periods, and the context keeps the cut points inside continuous signal), then cut at the
mapped boundaries and joined with 5 ms linear crossfades centred on the clean boundaries.
Pieces whose length already matches are copied unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hooked_audio.audio.waveform import Audio
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.pairs.tts import Speech

CONTEXT_S = 0.05  # neighbouring audio given to PSOLA on each side of a piece
CROSSFADE = 80  # samples on each side of a boundary (5 ms at 16 kHz)
MIN_PIECE = 4 * CROSSFADE  # shorter pieces are merged into the next one (20 ms)
MAX_FACTOR = 3.0  # Praat's "Lengthen (overlap-add)" clips its factor to [0.1, 3]

__all__ = ["Piece", "merge_words", "pieces", "stretch_pieces", "word_align"]


@dataclass(frozen=True)
class Piece:
    """A stretch of speech: `label` (a word, or `<lead>`, `<pause>`, `<tail>`) and its
    sample range `[start, end)`."""

    label: str
    start: int
    end: int


def pieces(speech: Speech) -> list[Piece]:
    """The lead-in, words, pauses and tail of `speech`, covering every sample in order."""
    rate = speech.sample_rate
    n = len(speech.audio)
    out, cursor = [], 0
    if not speech.words:
        raise ValueError("The speech has no word timings; synthesise it with `speak`.")
    for i, (word, start_s, end_s) in enumerate(speech.words):
        start = min(max(int(round(start_s * rate)), cursor), n)
        end = min(max(int(round(end_s * rate)), start), n)
        out.append(Piece("<lead>" if i == 0 else "<pause>", cursor, start))
        out.append(Piece(word, start, end))
        cursor = end
    out.append(Piece("<tail>", cursor, n))
    return out


def _matched(clean: list[Piece], corrupt: list[Piece]) -> tuple[list[int], list[int]]:
    """Boundaries (sample indices from 0 to each clip's length) of the pieces both sides
    have, at least `MIN_PIECE` samples long on both. A piece too short on either side (an
    empty lead-in, a pause only one side makes) is merged into a neighbour by dropping one
    of its boundaries: a word's end before a word's start, which espeak-ng reports itself."""
    cb = [0] + [p.end for p in clean]
    yb = [0] + [p.end for p in corrupt]
    # priority of each boundary: ends of words (starts of pauses) go first
    rank = [2] + [1 if p.label not in ("<lead>", "<pause>") else 2 for p in clean[:-1]] + [2]
    outer = {0, len(cb) - 1}
    while True:
        short = [
            k for k in range(len(cb) - 1) if min(cb[k + 1] - cb[k], yb[k + 1] - yb[k]) < MIN_PIECE
        ]
        if not short or len(cb) == 2:
            return cb, yb
        k = short[0]
        candidates = [j for j in (k, k + 1) if j not in outer]
        drop = min(candidates, key=lambda j: (rank[j], -j))
        del cb[drop], yb[drop], rank[drop]
        outer = {0, len(cb) - 1}


def _lengthen(x: np.ndarray, factor: float, min_pitch: float, max_pitch: float) -> np.ndarray:
    """PSOLA time stretch by `factor` (pitch kept); linear interpolation when the excerpt
    is too short for Praat's pitch analysis (under three periods of `min_pitch`)."""
    target = int(round(x.size * factor))
    if x.size < 3 * SAMPLE_RATE / min_pitch + 1:
        return np.interp(np.linspace(0, x.size - 1, target), np.arange(x.size), x)
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(x.astype(np.float64), sampling_frequency=float(SAMPLE_RATE))
    return call(sound, "Lengthen (overlap-add)", min_pitch, max_pitch, factor).values[0]


def stretch_pieces(
    audio: np.ndarray,
    source: list[int],
    target: list[int],
    min_pitch: float = 75.0,
    max_pitch: float = 600.0,
) -> np.ndarray:
    """Stretch `audio[source[k]:source[k+1]]` to exactly `target[k+1] - target[k]` samples
    for every k and join the pieces (5 ms crossfades at the inner boundaries).

    `source` and `target` are increasing sample indices of equal length, from 0 to
    `len(audio)` and from 0 to the output length. Returns float32 of `target[-1]` samples.
    """
    x = np.asarray(audio, dtype=np.float64)
    if len(source) != len(target) or len(source) < 2:
        raise ValueError("source and target need the same number (>= 2) of boundaries.")
    if source[0] != 0 or target[0] != 0 or source[-1] != x.size:
        raise ValueError("Boundaries must start at 0 and source must end at len(audio).")
    if np.any(np.diff(source) <= 0) or np.any(np.diff(target) <= 0):
        raise ValueError("Boundaries must be strictly increasing (no empty piece).")
    n_out = target[-1]
    out = np.zeros(n_out)
    context = int(CONTEXT_S * SAMPLE_RATE)
    for k in range(len(source) - 1):
        a, b, A, B = source[k], source[k + 1], target[k], target[k + 1]
        factor = (B - A) / (b - a)
        if not 1 / MAX_FACTOR <= factor <= MAX_FACTOR:
            raise ValueError(
                f"A piece of {(b - a) / SAMPLE_RATE:.3f} s would have to become "
                f"{(B - A) / SAMPLE_RATE:.3f} s "
                f"({factor:.2f} x), beyond the 1/{MAX_FACTOR:g}..{MAX_FACTOR:g} x a PSOLA stretch "
                "allows; choose words of more similar length, or alignment='dtw'."
            )
        fade_in = CROSSFADE if A > 0 else 0
        fade_out = CROSSFADE if B < n_out else 0
        if factor == 1.0:
            lo, hi = a - fade_in, b + fade_out
            piece = np.zeros(hi - lo)
            src_lo, src_hi = max(lo, 0), min(hi, x.size)
            piece[src_lo - lo : src_hi - lo] = x[src_lo:src_hi]
        else:
            left, right = min(context, a), min(context, x.size - b)
            stretched = _lengthen(x[a - left : b + right], factor, min_pitch, max_pitch)
            first = int(round(left * factor)) - fade_in
            piece = np.zeros(B - A + fade_in + fade_out)
            lo, hi = max(first, 0), min(first + piece.size, stretched.size)
            if hi > lo:
                piece[lo - first : hi - first] = stretched[lo:hi]
        weight = np.ones(piece.size)
        ramp = (np.arange(2 * CROSSFADE) + 0.5) / (2 * CROSSFADE)
        if fade_in:
            weight[: 2 * CROSSFADE] *= ramp
        if fade_out:
            weight[-2 * CROSSFADE :] *= ramp[::-1]
        out_lo = A - fade_in
        out[out_lo : out_lo + piece.size] += weight * piece
    return out.astype(np.float32)


def word_align(
    clean: Speech, corrupt: Speech, min_pitch: float = 75.0, max_pitch: float = 600.0
) -> Audio:
    """The corrupt speech with every piece stretched onto the clean piece: a 16 kHz `Audio`
    of exactly `len(clean.audio)` samples, word boundaries at the clean sample positions.

    The two must have the same number of words (`Speech.words`), matched in order; merge
    word events first when one word stands for several (see `merge_words`).
    """
    if len(clean.words) != len(corrupt.words):
        raise ValueError(
            f"Word alignment matches words in order, but the clean speech has "
            f"{len(clean.words)} words ({[w for w, _, _ in clean.words]}) and the corrupt "
            f"{len(corrupt.words)} ({[w for w, _, _ in corrupt.words]}); use texts with the "
            "same words up to the changed one, or alignment='dtw'."
        )
    if clean.sample_rate != SAMPLE_RATE or corrupt.sample_rate != SAMPLE_RATE:
        raise ValueError("Word alignment works on 16 kHz speech.")
    source_pieces, target_pieces = pieces(corrupt), pieces(clean)
    target, source = _matched(target_pieces, source_pieces)
    return Audio(stretch_pieces(corrupt.audio, source, target, min_pitch, max_pitch), SAMPLE_RATE)


def merge_words(speech: Speech, first: int, count: int) -> Speech:
    """`speech` with word events `first .. first + count - 1` joined into one."""
    if count == 1:
        return speech
    group = speech.words[first : first + count]
    joined = (" ".join(w for w, _, _ in group), group[0][1], group[-1][2])
    words = speech.words[:first] + [joined] + speech.words[first + count :]
    return Speech(audio=speech.audio, words=words, sample_rate=speech.sample_rate)
