"""Stream views: one stack of a hooked model presented as a TransformerLens model, and the
protocol every engine in `hooked_audio.patching` relies on."""

from hooked_audio.streams.protocol import AudioStream, check_stream
from hooked_audio.streams.view import LocalHookName, StreamView, UnembedSurface, bound_rows

__all__ = [
    "AudioStream",
    "LocalHookName",
    "StreamView",
    "UnembedSurface",
    "bound_rows",
    "check_stream",
]
