"""Hooked OpenAI Whisper: model, components, loaders."""

from hooked_audio.whisper.config import HookedWhisperConfig
from hooked_audio.whisper.model import HookedWhisper

__all__ = ["HookedWhisper", "HookedWhisperConfig"]
