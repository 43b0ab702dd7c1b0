"""Tutorial 10: steer Whisper's encoder along a speech / non-speech probe while it transcribes
audio without speech, and watch the hallucinations.

A published probe of an encoder-decoder ASR model found speech and non-speech linearly
separable from the first encoder layer, and adding the probe's direction (towards non-speech)
suppressed about half of the hallucinations. Here, on the packaged tiny.en:

1. An activation store of the encoder's residual stream (`hook_resid_post`, every layer) over
   the bundled pairs' clean clips (speech, with word times) and synthesised non-speech clips
   (`hooked_audio.interventions.non_speech_clips`).
2. A speech / non-speech probe per layer (`hooked_audio.probes`), scored on held-out clips.
3. A steering sweep (`steering_sweep`) on other non-speech clips (another seed, other
   lengths): the last layer's probe direction added at every encoder frame of that layer,
   towards non-speech (negative strengths) and towards speech (positive), in units of the
   residual stream's mean norm there; hallucination is the share of clips with any word.

It prints the probe's held-out accuracy per layer and the sweep's table, then a sentence that
says, from the numbers, whether steering towards non-speech lowered hallucination. It asserts
what must hold whatever the answer: the probe reads speech far above chance at the last
layer, and every strength was run on every clip.

Run: `python tutorials/10_steer_hallucination_probe.py` (a couple of minutes on 2 CPU cores).
"""

# %% An activation store of speech and non-speech clips.
import tempfile
from pathlib import Path

import torch

from hooked_audio import HookedWhisper
from hooked_audio.ablation_study import TranscriptClip, steering_sweep
from hooked_audio.activation_store import (
    ActivationStore,
    StoreClip,
    clips_from_pairs,
    write_activations,
)
from hooked_audio.interventions import non_speech_clips
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.pairs import bundled_pairs
from hooked_audio.probes import speech_labels, train_probes

model = HookedWhisper.from_pretrained("tiny.en")
layers = range(model.dims.n_audio_layer)
hooks = [f"encoder.blocks.{layer}.hook_resid_post" for layer in layers]
speech = [clip for clip in clips_from_pairs(bundled_pairs()[:4]) if clip.words]
noise = {f"train-{name}": audio for name, audio in non_speech_clips(seconds=3.0, seed=1).items()}
store_clips = speech + [StoreClip(name, audio, sample_rate=16000) for name, audio in noise.items()]
folder = Path(tempfile.mkdtemp()) / "store"
source = WhisperEncoderSource(model, "tiny.en")
store = ActivationStore(write_activations(source, store_clips, hooks, folder, progress=False))

# %% A speech / non-speech probe per layer, on held-out clips.
labels = speech_labels(store, non_speech_clips=list(noise))
probes = train_probes(store, labels, folds=3, progress=False)
print(probes.table[["layer", "accuracy", "accuracy_low", "accuracy_high", "chance_accuracy"]])
last = max(layers)
accuracy = float(probes.table.set_index("layer").loc[last, "balanced_accuracy"])
assert accuracy > 0.8, f"the probe reads speech poorly at layer {last}: {accuracy:.2f}"
direction = probes.direction(last)  # unit length, towards "speech"

# %% Steer the last layer along it while transcribing unseen non-speech clips.
unseen = [
    TranscriptClip(name, audio, "") for name, audio in non_speech_clips(seconds=8.0, seed=7).items()
]
mel = model.to_mel([clip.audio for clip in unseen])
prompt = torch.tensor([model.tokenizer.sot_sequence_including_notimestamps] * len(unseen))
with torch.no_grad():
    _, cache = model.run_with_cache(mel, prompt, names_filter=hooks[last])
norm = float(cache[hooks[last]].norm(dim=-1).mean())  # what steering_sweep reports at 0
factors = [-1.0, -0.5, -0.25, 0.25, 0.5]
sweep = steering_sweep(model, unseen, hooks[last], direction, [f * norm for f in factors])
table = sweep.summary()
assert (sweep.rows.groupby("strength").size() == len(unseen)).all()
assert abs(sweep.activation_norm - norm) < 1e-3 * norm
print(f"\nMean norm of encoder.blocks.{last}.hook_resid_post: {norm:.1f}")
print("| strength (x norm) | hallucination | words per second | repetition |")
print("|---:|---:|---:|---:|")
for strength, row in table.iterrows():
    print(
        f"| {strength / norm:+.2f} | {row.hallucination:.2f} | {row.words_per_second:.2f} | "
        f"{row.repetition:.2f} |"
    )
base = float(table.loc[0.0, "hallucination"])
towards_silence = table[table.index < 0]["hallucination"]
best = float(towards_silence.min())
verdict = "lowered" if best < base else "did not lower"
print(
    f"\nSteering towards non-speech {verdict} hallucination on tiny.en: {base:.2f} with nothing "
    f"added, {best:.2f} at best (strength {towards_silence.idxmin() / norm:+.2f} x norm)."
)
