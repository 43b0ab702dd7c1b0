"""argparse types that refuse a bad value while parsing, before any model loads.

argparse names the option in its message (`argument --layers: ...`) and exits with status 2,
which is what a user of a command line expects from a value that cannot work.
"""

from __future__ import annotations

import argparse


def _integer_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= {minimum}, got {text!r}"
        ) from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """A layer, head or index: an integer >= 0."""
    return _integer_at_least(0, text)


def positive_int(text: str) -> int:
    """A count or a size: an integer >= 1."""
    return _integer_at_least(1, text)


def port_number(text: str) -> int:
    """A TCP port: 0 (any free port) to 65535."""
    value = _integer_at_least(0, text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0: any free port), got {value}")
    return value


def add_model_argument(parser: argparse.ArgumentParser, families: str = "Whisper") -> None:
    """`--model`: a model name or checkpoint path, loaded only after the other arguments are
    checked (`hooked_audio.models.loading.load_model`); `families`: what the command runs on,
    for the help."""
    parser.add_argument(
        "--model",
        default="tiny.en",
        help=f"tiny.en (packaged), base, or a checkpoint path or HF folder; runs on {families} "
        "(default: tiny.en)",
    )


def load_whisper_for(command: str, name_or_path: str):
    """`--model` of a command that runs on Whisper only: the loaded `HookedWhisper`, or a
    ValueError naming the family the checkpoint holds and the command that serves it."""
    from pathlib import Path

    from hooked_audio.models.loading import hf_model_type
    from hooked_audio.models.whisper import HookedWhisper

    model_type = hf_model_type(Path(name_or_path).expanduser())
    if model_type not in (None, "whisper"):
        raise ValueError(
            f"hooked-audio {command} runs on Whisper models; --model {name_or_path} holds a "
            f"{model_type!r} model. `hooked-audio study` runs on wav2vec2 / HuBERT CTC models "
            "too; in Python, every engine of hooked_audio.patching runs on any family's "
            "stream views."
        )
    return HookedWhisper.from_pretrained(name_or_path)


def check_workers_with_ray(args) -> None:
    """`--workers` counts Ray workers, so it needs `--ray`."""
    if args.workers is not None and args.ray is None:
        raise ValueError("--workers sets the number of Ray workers: use it with --ray.")
