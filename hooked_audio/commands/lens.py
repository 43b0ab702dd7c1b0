"""`hooked-audio lens AUDIO`: the encoder lens and the decoder logit lens of a Whisper model.

Audio longer than one 30 s window is refused unless `--chunk` is given; then each window
(consecutive, the last zero-padded, as `model.to_mel(..., chunk=True)` splits it) is lensed on
its own, against the model's own transcript of that window.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hooked_audio.audio import load_audio
from hooked_audio.commands.arguments import add_model_argument, load_whisper_for
from hooked_audio.constants import SAMPLE_RATE
from hooked_audio.models.whisper.front_end import WINDOW_SECONDS

TEXT_WIDTH = 60


def add_lens_parser(sub) -> None:
    parser = sub.add_parser(
        "lens",
        help="encoder lens (each encoder layer decoded) and decoder logit lens of one clip",
    )
    parser.add_argument("audio", type=Path, help="audio file (wav, flac, ogg, mp3, ...)")
    add_model_argument(parser)
    parser.add_argument(
        "--chunk",
        action="store_true",
        help=f"lens audio over {WINDOW_SECONDS} s one {WINDOW_SECONDS} s window at a time",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="bound on the lensed transcripts of the layers below the last "
        "(default: twice the model's own transcript plus 10 tokens)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _check_and_load(args: argparse.Namespace):
    """Everything that needs no model: the audio file, its length, the options."""
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be at least 1, got {args.max_tokens}.")
    audio = load_audio(args.audio)  # an AudioInputError (a ValueError) names the problem
    seconds = len(audio) / SAMPLE_RATE
    if seconds > WINDOW_SECONDS and not args.chunk:
        raise ValueError(
            f"{args.audio} is {seconds:.1f} s long, over Whisper's "
            f"{WINDOW_SECONDS} s window. Pass --chunk to lens each {WINDOW_SECONDS} s window "
            "on its own, or cut the clip."
        )
    return audio, seconds


def _window_report(model, mel, start_s: float, end_s: float, max_tokens: int | None) -> dict:
    from hooked_audio.models.whisper.lens.decoder_lens import decoder_lens
    from hooked_audio.models.whisper.lens.encoder_lens import encoder_lens

    encoder = encoder_lens(model, mel, max_tokens=max_tokens)
    tokens = [*model.start_tokens(), *encoder.target_tokens]
    decoder = decoder_lens(model, mel, tokens=tokens)
    return {
        "start_s": start_s,
        "end_s": end_s,
        "transcript": encoder.text,
        "n_target_tokens": len(encoder.target_tokens),
        "encoder_lens": encoder.records(),
        "decoder_lens": decoder.summary_records(),
    }


def _short(text: str) -> str:
    return text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 3] + "..."


def _print_window(window: dict) -> None:
    print(
        f"\nWindow {window['start_s']:.2f}-{window['end_s']:.2f} s. "
        f"Transcript: {window['transcript']!r}"
    )
    print(
        "Encoder lens: encoder.blocks.{l}.hook_resid_post -> ln_post -> decoder; accuracy and "
        f"log-prob teacher-forced on the {window['n_target_tokens']} transcript tokens "
        "(with <|endoftext|>)"
    )
    print(f"  {'layer':>5}  {'accuracy':>8}  {'mean log-prob':>13}  lensed transcript")
    for row in window["encoder_lens"]:
        cut = " [max tokens]" if row["reached_max_tokens"] else ""
        print(
            f"  {row['label']:>5}  {row['accuracy']:8.3f}  {row['mean_log_prob']:13.3f}  "
            f"{_short(row['text'])!r}{cut}"
        )
    print("Decoder logit lens: decoder.blocks.{l}.hook_resid_post -> ln_final -> unembed")
    print(f"  {'layer':>5}  {'top-1 acc':>9}  {'mean p(target)':>14}  {'median rank':>11}")
    for row in window["decoder_lens"]:
        print(
            f"  {row['label']:>5}  {row['accuracy']:9.3f}  {row['mean_target_prob']:14.3f}  "
            f"{row['median_target_rank']:11.0f}"
        )


def run_lens_command(args: argparse.Namespace) -> int:
    audio, seconds = _check_and_load(args)
    model = load_whisper_for("lens", args.model)
    mel = model.to_mel(audio, chunk=args.chunk)
    windows = []
    for i in range(mel.shape[0]):
        start = i * model.window_seconds
        end = min(start + model.window_seconds, seconds)
        windows.append(_window_report(model, mel[i : i + 1], start, end, args.max_tokens))
    if args.json:
        report = {
            "model": args.model,
            "audio": str(args.audio),
            "seconds": seconds,
            "windows": windows,
        }
        print(json.dumps(report))
        return 0
    print(f"{args.audio}: {seconds:.2f} s, model {args.model}")
    for window in windows:
        _print_window(window)
    return 0
