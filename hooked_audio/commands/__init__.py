"""Argument types shared by the `hooked-audio` subcommands."""

from hooked_audio.commands.arguments import non_negative_int, positive_int

__all__ = ["non_negative_int", "positive_int"]
