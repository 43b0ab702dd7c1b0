"""Tutorial 8: where each word of a 77 s recording is carried, word by word, in recording time.

The three ~25 s recordings of one speaker that the package ships with forced alignments are
joined into one 77 s recording: three of Whisper's 30 s windows, the long-form path
(`hooked_audio.models.whisper.long_form`), every time in seconds of the recording. Then one
word at a time is silenced over its reference span (Montreal Forced Aligner's times), and the
clean run's encoder residual stream (`resid_pre`, each layer) is restored into the silenced run
over three spans: the word's own, the word before and the word after.

The metric is the model's log-probability of the word's first token, teacher-forced on its
window's own transcript up to the word (`whisper.decode` of that window). Recovery is
normalised: 0 = the silenced run, 1 = the clean run. Only words whose silencing costs at least
one nat are mapped: for the others the model guesses the word from its context, and there is
nothing to recover. Words cut by a window boundary, and reference words the model does not
transcribe (fillers such as "uh"), are left out.

Expected (as on the synthesised pairs of tutorial 1, where the changed word's own frames
restore it at every layer and the other words' restore nothing): each word's own frames restore
it at every encoder layer, and its neighbours' frames restore little. The script asserts both
(own > 0.8 at every layer; neighbours < 0.3 on average) and prints the numbers per layer.

Run: `python tutorials/08_long_recording_words.py` (about 2 minutes on 2 CPU cores). The map is
written to `long_recording_words.png` in the folder given by `HOOKED_AUDIO_TUTORIAL_OUT`
(default: the system's temporary folder).
"""

# %% Join the recordings; shift each one's reference words to recording time.
import os
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
import whisper

from hooked_audio import HookedWhisper
from hooked_audio.audio import Audio
from hooked_audio.metrics import LogProb
from hooked_audio.models.whisper.long_form import LongClip, long_clip_sweep
from hooked_audio.recordings import aligned_clips
from hooked_audio.word_times.matching import matched_words

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RECORDINGS = ("acoustic_corpus", "cold_corpus", "cold_corpus3")
EVERY = 3  # map every third transcribed word (all of them: EVERY = 1, about 3x the time)
MIN_EFFECT = 1.0  # nats the silenced word must lose to be mapped
SAMPLE_RATE = 16000

model = HookedWhisper.from_pretrained("tiny.en")
parts = aligned_clips(list(RECORDINGS))
audio = np.concatenate([part.audio for part in parts]).astype(np.float32)
words, offset = [], 0.0
for part in parts:
    words += [(word, start + offset, end + offset) for word, start, end in part.words]
    offset += len(part.audio) / SAMPLE_RATE
recording = LongClip.of(model, Audio(audio, SAMPLE_RATE))
print(
    f"{recording.seconds:.1f} s recording, {recording.n_windows} windows of "
    f"{recording.window_seconds:.0f} s, {len(words)} reference words"
)

# %% Each window's transcript, and the reference words it transcribes.
options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
targets = []  # (word, start_s, end_s, transcript words before it)
for window in range(recording.n_windows):
    with torch.no_grad():
        mel = model.to_mel(recording.window_audio(window))
        text = whisper.decode(model, mel, options)[0].text
    heard = text.split()
    start_s = recording.window_start(window)
    end_s = min(start_s + recording.window_seconds, recording.seconds)
    inside = [w for w in words if start_s <= w[1] and w[2] <= end_s]
    matched = matched_words([w for w, _, _ in inside], heard)
    print(f"window {window} ({start_s:.0f}-{end_s:.1f} s): {len(matched)} of its ", end="")
    print(f"{len(inside)} reference words transcribed: {text[:60]!r}...")
    for reference, spoken in matched:
        word, start, end = inside[reference]
        targets.append((heard[spoken], start, end, heard[:spoken]))
targets = targets[::EVERY]


# %% One word at a time: silence it, restore the clean stream over its span and its neighbours'.
def neighbour(start: float, end: float, before: bool) -> tuple[float, float] | None:
    """The reference span of the word before (after) this one, inside the same window."""
    spans = [(a, b) for _, a, b in words if (b <= start if before else a >= end)]
    if not spans:
        return None
    span = spans[-1] if before else spans[0]
    return span if recording.window_of(span[0]) == recording.window_of(start) else None


rows = []
for word, start, end, before in targets:
    corrupt = audio.copy()
    corrupt[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)] = 0.0  # silence over the word
    prefix = " ".join(before)
    tokens = model.start_tokens() + (model.tokenizer.encode(" " + prefix) if prefix else [])
    first_token = model.tokenizer.encode(" " + word)[0]
    spans = {"own": (start, end)}
    for label, is_before in (("before", True), ("after", False)):
        span = neighbour(start, end, is_before)
        if span is not None:
            spans[label] = span
    result = long_clip_sweep(
        model,
        Audio(audio, SAMPLE_RATE),
        Audio(corrupt, SAMPLE_RATE),
        torch.tensor([tokens]),
        LogProb(len(tokens) - 1, first_token),
        at_seconds=start,
        spans_s=list(spans.values()),
        progress=False,
    )
    effect = result.clean_value - result.corrupt_value
    if effect < MIN_EFFECT:
        continue
    recovery = result.normalised()
    for layer_index, layer in enumerate(result.layers):
        row = {"word": word, "start_s": start, "end_s": end, "layer": layer, "effect": effect}
        for cell, label in enumerate(spans):
            row[label] = float(recovery[layer_index, cell])
        rows.append(row)
table = pd.DataFrame(rows)
mapped = table["word"].groupby([table["start_s"]]).first()
print(f"\n{len(targets)} words silenced in turn, {len(mapped)} lost >= {MIN_EFFECT} nat (mapped).")
print("Recovery from restoring the clean stream over each span (mean over mapped words):")
summary = table.groupby("layer")[["own", "before", "after"]].mean()
print(summary.round(2).to_string())
largest = table.groupby("layer")["after"].max()
print("Largest recovery from the next word's span, per layer:", end=" ")
print(", ".join(f"{layer}: {value:.2f}" for layer, value in largest.items()))

# %% The map in recording time: per layer, each mapped word's recovery at its own span.
layers = sorted(table["layer"].unique())
fig, axes = plt.subplots(len(layers), 1, figsize=(12, 1.6 * len(layers) + 1), sharex=True)
for ax, layer in zip(axes, layers):
    at = table[table["layer"] == layer]
    ax.bar(at["start_s"], at["own"], width=at["end_s"] - at["start_s"], align="edge", label="own")
    ax.plot((at["start_s"] + at["end_s"]) / 2, at["after"], "k.", label="word after")
    ax.set_ylabel(f"layer {layer}")
    ax.set_ylim(-0.2, 1.2)
    for boundary in range(1, recording.n_windows):
        ax.axvline(boundary * recording.window_seconds, color="grey", linestyle=":")
axes[0].legend(loc="lower left", bbox_to_anchor=(0, 1.15), ncols=2)
axes[0].set_title("Recovery of each silenced word from its own frames (bars) and the next word's")
axes[-1].set_xlabel("seconds of the recording (dotted: Whisper's 30 s windows)")
out = Path(os.environ.get("HOOKED_AUDIO_TUTORIAL_OUT", tempfile.gettempdir()))
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "long_recording_words.png", dpi=100, bbox_inches="tight")
print(f"\nMap: {out / 'long_recording_words.png'}")

# %% The direction of the effect.
assert len(mapped) >= 10, f"only {len(mapped)} words could be mapped"
assert (table["start_s"] > 2 * recording.window_seconds).any(), "no word mapped in the last window"
assert (summary["own"] > 0.8).all(), f"a word's own frames should restore it:\n{summary}"
assert (summary[["before", "after"]] < 0.3).all().all(), f"neighbours restore too much:\n{summary}"
print(
    "\nChecks passed: in every window of the recording and at every layer, each word is carried "
    "by its own frames, and its neighbours' frames restore little of it."
)
