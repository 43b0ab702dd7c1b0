"""A store whose activations are known: a stand-in source (the activation store's source
protocol: `name`, `samples_per_position`, `window_samples`, `check_hooks`, `activations`) with
three hooks, where only `blocks.1.hook_resid_post` carries each 20 ms frame's loudness, along
a fixed random direction, and the other two are noise. Speech clips are loud inside their
words and silent elsewhere, so at blocks.1 speech vs non-speech is linear; at blocks.0 and
blocks.2 it is not there at all."""

from __future__ import annotations

import numpy as np
import torch

from hooked_audio.activation_store import ActivationStore, StoreClip, write_activations

HOOKS = [f"blocks.{layer}.hook_resid_post" for layer in range(3)]
CARRIER = HOOKS[1]
EMBED = "hook_embed"  # a hook outside the blocks (no layer), noise too
FEATURES = 6
STEP = 320  # samples per 20 ms position at 16 kHz


class SyntheticSource:
    name = "synthetic"
    samples_per_position = STEP
    window_samples = 16000 * 30

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        axis = np.random.default_rng(1).normal(size=FEATURES)
        self.axis = axis / np.linalg.norm(axis)

    def check_hooks(self, names):
        unknown = [n for n in names if n not in [*HOOKS, EMBED]]
        if unknown:
            raise ValueError(f"unknown hooks {unknown}")

    def activations(self, windows, names):
        n = max(int(np.ceil(len(w) / STEP)) for w in windows)
        loudness = np.zeros((len(windows), n))
        for b, w in enumerate(windows):
            frames = np.resize(np.pad(w, (0, n * STEP - len(w))), (n, STEP))
            loudness[b] = np.sqrt((frames**2).mean(-1))
        out = {}
        for name in names:
            noise = self.rng.normal(size=(len(windows), n, FEATURES))
            if name == CARRIER:
                noise = 0.3 * noise + 4 * loudness[..., None] * self.axis
            out[name] = torch.as_tensor(noise, dtype=torch.float32)
        return out


def speech_clip(clip_id: str, words, seconds: float, seed: int) -> StoreClip:
    """Noise at amplitude 0.5 inside each word (times on the 20 ms grid), silence elsewhere."""
    rng = np.random.default_rng(seed)
    audio = np.zeros(int(seconds * 16000), np.float32)
    for _, start, end in words:
        first, last = round(start * 16000), round(end * 16000)
        audio[first:last] = rng.uniform(-0.5, 0.5, last - first)
    return StoreClip(clip_id, audio, words, sample_rate=16000)


def silent_clip(clip_id: str, seconds: float) -> StoreClip:
    return StoreClip(clip_id, np.zeros(int(seconds * 16000), np.float32), sample_rate=16000)


#: words on the 20 ms grid; every word is spoken in two clips at least
SENTENCES = [
    [("one", 0.2, 0.5), ("two", 0.5, 0.7), ("three", 0.8, 1.2)],
    [("two", 0.1, 0.4), ("one", 0.4, 0.6), ("three", 0.6, 0.9)],
    [("three", 0.2, 0.4), ("two", 0.4, 0.8)],
    [("one", 0.3, 0.7), ("three", 0.7, 1.1)],
]


def synthetic_clips(n_speech: int = 8, n_silent: int = 4) -> list[StoreClip]:
    clips = [
        speech_clip(f"speech-{i}", SENTENCES[i % len(SENTENCES)], 1.4, seed=i)
        for i in range(n_speech)
    ]
    return clips + [silent_clip(f"silence-{i}", 1.0) for i in range(n_silent)]


def synthetic_store(folder, clips=None, hooks=HOOKS) -> ActivationStore:
    clips = synthetic_clips() if clips is None else clips
    return ActivationStore(
        write_activations(SyntheticSource(), clips, hooks, folder, progress=False)
    )
