"""The minimal-pair part of `hooked-audio demo`: where in time does the answer live?

For each bundled content pair (same voice, one word changed, word-aligned), transcribe both
clips, take the first token where the transcripts differ as the answer, and denoise the
encoder's residual stream one word's 20 ms frames at a time: run the corrupt clip with the
clean activations of that word's frames patched in at `blocks.{layer}.hook_resid_pre`, and
measure how much of the clean-vs-corrupt logit difference comes back (0 = corrupt, 1 =
clean). The changed word's own frames should carry the answer, the others nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.metrics import answer_from_transcripts
from hooked_audio.pairs import MinimalPair, bundled_pairs
from hooked_audio.patching import layer_sweep, time_cells


@dataclass(frozen=True)
class WordRecovery:
    """One content pair's sweep: `recovery[layer_index][word_index]`."""

    pair_id: str
    changed_word: str
    words: list[str]
    layers: list[int]
    recovery: list[list[float]]

    def best_word(self, layer_index: int) -> str:
        row = self.recovery[layer_index]
        return self.words[max(range(len(row)), key=row.__getitem__)]


def word_recovery(model, pair: MinimalPair, layers: Sequence[int]) -> tuple[WordRecovery, object]:
    """Denoise each word's frames of `pair` at each of `layers` (resid_pre); returns the
    recoveries and the `PairAnswer` (transcripts, answer tokens)."""
    clean = model.to_frames(pair.clean_audio, sample_rate=SAMPLE_RATE)
    corrupt = model.to_frames(pair.corrupt_audio, sample_rate=SAMPLE_RATE)
    answer = answer_from_transcripts(model, clean, corrupt)
    words = pair.meta["clean_words"]
    cells = time_cells.spans(
        model.dims.n_audio_ctx,
        [(start, end) for _, start, end in words],
        labels=[word for word, _, _ in words],
        seconds_per_frame=model.window_seconds / model.dims.n_audio_ctx,
    )
    result = layer_sweep(
        model.encoder_stream(answer.tokens),
        clean,
        corrupt,
        answer.metric(),
        act="resid_pre",
        layers=list(layers),
        cells=cells.cells,
        labels=cells.labels,
        progress=False,
    )
    recovery = result.normalised().tolist()
    return WordRecovery(
        pair.id, pair.differing_words[0], cells.labels, list(layers), recovery
    ), answer


def pairs_demo(
    model,
    layers: Sequence[int] = (0, 3),
    max_pairs: int | None = 1,
    out: Callable[[str], None] = print,
) -> list[WordRecovery]:
    """Print, for the first `max_pairs` bundled content pairs (None: all), the transcripts
    and a layers x words table of recovery; return the tables."""
    pairs = bundled_pairs()
    content = [p for p in pairs if p.kind == "content"][:max_pairs]
    kinds = ", ".join(
        f"{sum(p.kind == k for p in pairs)} {k}" for k in ("content", "speaker", "prosody")
    )
    out(
        f"\nBundled minimal pairs (hooked_audio.pairs.bundled_pairs(): {kinds}).\n"
        "Content pair: denoise encoder resid_pre one word's frames at a time; recovery of the\n"
        "logit difference at the first differing token (0 = corrupt run, 1 = clean run)."
    )
    results = []
    for pair in content:
        with torch.no_grad():
            result, answer = word_recovery(model, pair, layers)
        results.append(result)
        out(f"\n  {pair.id}: clean:{answer.clean_text}  corrupt:{answer.corrupt_text}")
        out(
            f"  answer {model.to_string([answer.correct])!r} vs "
            f"{model.to_string([answer.incorrect])!r}"
        )
        width = max(6, *(len(w) + 1 for w in result.words))
        out("  layer " + "".join(f"{w:>{width}}" for w in result.words))
        for li, layer in enumerate(result.layers):
            out(f"  {layer:5d} " + "".join(f"{v:>{width}.2f}" for v in result.recovery[li]))
        best = [result.best_word(li) for li in range(len(result.layers))]
        where = ", ".join(f"layer {layer}: {word!r}" for layer, word in zip(result.layers, best))
        out(
            f"  -> the frames that recover the answer most: {where} "
            f"(changed word: {result.changed_word!r})"
        )
    return results
