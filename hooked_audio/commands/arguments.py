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


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """`--model`: a Whisper name or checkpoint path, loaded only after the other arguments
    are checked (`HookedWhisper.from_pretrained`)."""
    parser.add_argument(
        "--model",
        default="tiny.en",
        help="tiny.en (packaged), base, or a checkpoint path (default: tiny.en)",
    )
