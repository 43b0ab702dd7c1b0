"""argparse types that refuse a bad value while parsing, before any model loads.

argparse names the option in its message (`argument --layers: ...`) and exits with status 2,
which is what a user of a command line expects from a value that cannot work.
"""

from __future__ import annotations

import argparse


def non_negative_int(text: str) -> int:
    """A layer, head or index: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_int(text: str) -> int:
    """A count or a size: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value
