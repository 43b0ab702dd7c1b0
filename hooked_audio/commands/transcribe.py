"""`hooked-audio transcribe AUDIO`: openai-whisper's own `transcribe` on a `HookedWhisper`, and
again with encoder frames zeroed (`--ablate`) or copied from another clip (`--patch`).

Interventions name encoder positions of the one 30 s window the clip fills, so a clip with
interventions is decoded as that one window: `without_timestamps=True`, under which
`whisper.transcribe` never seeks to a second window inside a clip of at most 30 s (with
timestamps it may restart at the last timestamp, and the hook would then land on other audio).
Longer audio is refused unless `--chunk`, which lets `whisper.transcribe` seek through it as
usual (timestamps on) and takes no interventions: their times would name positions of
whichever window happened to be decoded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hooked_audio.audio import load_audio
from hooked_audio.commands.arguments import add_model_argument, load_whisper_for
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.whisper.frame_interventions import (
    SPAN_FORMAT,
    FrameSpan,
    intervention_hooks,
    parse_frame_span,
    span_positions,
)
from hooked_audio.models.whisper.front_end import WINDOW_SECONDS
from hooked_audio.models.whisper.inference import TRANSCRIBE_DECODING
from hooked_audio.word_times.transcript_diff import changed_words


def frame_span_argument(text: str) -> FrameSpan:
    """argparse type: `HOOK@START-END`, refused while parsing when malformed."""
    try:
        return parse_frame_span(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_transcribe_parser(sub) -> None:
    parser = sub.add_parser(
        "transcribe",
        help="transcribe with openai-whisper on the hooked model, plain and with encoder "
        "frames zeroed or patched from another clip",
    )
    parser.add_argument("audio", type=Path, help="audio file (wav, flac, ogg, mp3, ...)")
    add_model_argument(parser)
    parser.add_argument(
        "--ablate",
        type=frame_span_argument,
        action="append",
        default=[],
        metavar="HOOK@START-END",
        help=f"zero an encoder hook over a time span ({SPAN_FORMAT}); repeatable",
    )
    parser.add_argument(
        "--patch",
        type=frame_span_argument,
        action="append",
        default=[],
        metavar="HOOK@START-END",
        help="replace an encoder hook over a time span with the same frames of the run on "
        "--source; repeatable",
    )
    parser.add_argument("--source", type=Path, help="the clip --patch copies frames from")
    parser.add_argument(
        "--chunk",
        action="store_true",
        help=f"transcribe audio over {WINDOW_SECONDS} s (whisper seeks through it; "
        "no --ablate/--patch then)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _seconds(audio) -> float:
    return len(audio) / SAMPLE_RATE


def _check_spans(spans: list[FrameSpan], seconds: float, clip: Path, what: str) -> None:
    for span in spans:
        if span.end_s > seconds:
            raise ValueError(
                f"{what} {span}: ends at {span.end_s:g} s, after the end of {clip} "
                f"({seconds:.2f} s); give a span inside the clip."
            )


def _check_inputs(args: argparse.Namespace):
    """Everything that needs no model: the audio, its length, the spans and the source."""
    audio = load_audio(args.audio)
    seconds = _seconds(audio)
    interventions = bool(args.ablate or args.patch)
    if seconds > WINDOW_SECONDS:
        if not args.chunk:
            raise ValueError(
                f"{args.audio} is {seconds:.1f} s long, over Whisper's {WINDOW_SECONDS} s "
                "window: pass --chunk to transcribe it window by window, or cut the clip."
            )
        if interventions:
            raise ValueError(
                f"--ablate/--patch name encoder positions of one {WINDOW_SECONDS} s window, and "
                f"{args.audio} ({seconds:.1f} s) is decoded window by window: cut out the "
                f"{WINDOW_SECONDS} s that hold the span and intervene on that clip."
            )
    if args.patch and args.source is None:
        raise ValueError("--patch copies frames from another clip: give it with --source.")
    if args.source is not None and not args.patch:
        raise ValueError("--source is the clip --patch copies from: add --patch HOOK@START-END.")
    _check_spans(args.ablate, seconds, args.audio, "--ablate")
    _check_spans(args.patch, seconds, args.audio, "--patch")
    source = None
    if args.source is not None:
        source = load_audio(args.source)
        source_seconds = _seconds(source)
        if source_seconds > WINDOW_SECONDS:
            raise ValueError(
                f"--source {args.source} is {source_seconds:.1f} s long, over Whisper's "
                f"{WINDOW_SECONDS} s window; cut it to the window that holds the span."
            )
        _check_spans(args.patch, source_seconds, args.source, "--patch (in --source)")
    return audio, seconds, source


def window_transcribe_options(model, seconds: float) -> dict:
    """Greedy `whisper.transcribe` options; one window, decoded once, without timestamps, for
    audio that fits in the window (see the module docstring)."""
    from hooked_audio.models.whisper.inference import transcribe_options

    return {
        **transcribe_options(model),
        "without_timestamps": seconds <= model.window_seconds,
        "verbose": None,
    }


def _describe(model, kind: str, span: FrameSpan, source: Path | None) -> dict:
    positions = span_positions(model, span)
    return {
        "kind": kind,
        "hook": span.hook,
        "start_s": span.start_s,
        "end_s": span.end_s,
        "positions": [positions[0], positions[-1]],
        "source": None if source is None else str(source),
    }


def _print_report(report: dict) -> None:
    print(f"{report['audio']}: {report['seconds']:.2f} s, model {report['model']}")
    print(f"Transcript ({report['decoding']}):{report['transcript']}")
    if not report["interventions"]:
        return
    for item in report["interventions"]:
        first, last = item["positions"]
        what = "Zeroing" if item["kind"] == "ablate" else f"Patching from {item['source']}"
        print(
            f"{what}: {item['hook']} over {item['start_s']:g}-{item['end_s']:g} s "
            f"(positions {first}-{last})"
        )
    print(f"With the intervention:{report['intervened_transcript']}")
    changes = report["changes"]
    if not changes:
        print("Changed words: none")
    for change in changes:
        before, after = change["before"] or "(nothing)", change["after"] or "(nothing)"
        print(f"Changed words: {before!r} -> {after!r}")


def run_transcribe_command(args: argparse.Namespace) -> int:
    audio, seconds, source = _check_inputs(args)
    import torch
    import whisper

    model = load_whisper_for("transcribe", args.model)
    hooks = intervention_hooks(model, args.ablate, args.patch, source)
    options = window_transcribe_options(model, seconds)
    with torch.no_grad():
        plain = whisper.transcribe(model, audio, **options)["text"]
        intervened = None
        if hooks:
            with model.hooks(fwd_hooks=hooks):
                intervened = whisper.transcribe(model, audio, **options)["text"]
    report = {
        "model": args.model,
        "audio": str(args.audio),
        "seconds": seconds,
        "interventions": [_describe(model, "ablate", span, None) for span in args.ablate]
        + [_describe(model, "patch", span, args.source) for span in args.patch],
        "decoding": TRANSCRIBE_DECODING,
        "transcript": plain,
        "intervened_transcript": intervened,
        "changes": []
        if intervened is None
        else [
            {"index": c.index, "before": " ".join(c.before), "after": " ".join(c.after)}
            for c in changed_words(plain, intervened)
        ],
    }
    if args.json:
        print(json.dumps(report))
    else:
        _print_report(report)
    return 0
