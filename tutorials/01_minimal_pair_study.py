"""Tutorial 1: which 20 ms frames carry a word? A minimal-pair study, and noise for contrast.

Each bundled content pair is one sentence spoken twice by the same synthetic voice, with one
word changed ("He drove his car/bike to the station."). The metric is the decoder's logit
difference between the two words at the position that predicts the word. We patch the
encoder's residual stream (`resid_pre`) one word's frames at a time, at layers 0 and 3:

- denoise: clean frames into the corrupt run. Do these frames alone bring the answer back?
- noise: corrupt frames into the clean run. Does corrupting them alone take it away?

Recovery is normalised: 0 = the corrupt run's metric, 1 = the clean run's. Then the same
pairs are corrupted with white noise at 0 dB SNR, over the whole clip and over the changed
word only, and each corruption's denoising map at layer 0 (where frames still line up with
the sound) is scored by its sharpness: the share of the positive recovery that lies on the
changed word (1 = all of it).

Expected: on the minimal pairs, the changed word's frames carry the whole recovery and the
other words none; the minimal pairs' maps are sharper than whole-clip noise's, which smears
the recovery over every word it corrupted.

Run: `python tutorials/01_minimal_pair_study.py` (about 70 s on 2 CPU cores).
"""

# %% Load the packaged tiny.en and the bundled content pairs.
from hooked_audio import HookedWhisper
from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study.corruption_comparison import (
    NoiseCorruption,
    compare_corruptions,
    corruption_table,
)

LAYERS = (0, 3)  # the first and the last encoder layer of tiny.en
COMPARE_LAYERS = (0,)  # the noise comparison costs a sweep per corruption: one layer here

model = HookedWhisper.from_pretrained("tiny.en")
pairs = [pair for pair in bundled_pairs() if pair.kind == "content"]
print("Content minimal pairs:")
for pair in pairs:
    start, end = pair.spans_s[0]
    print(f"  {pair.id:16s} {pair.clean_text!r} -> {pair.corrupt_text!r} ({start:.2f}-{end:.2f} s)")

# %% The study: both directions, one cell per word, layers 0 and 3.
spec = StudySpec(
    directions=("denoise", "noise"), acts=("resid_pre",), layers=LAYERS, granularity="words"
)
result = run_study(model, pairs, spec, progress=False)

# Mean normalised recovery over the pairs, in the changed word's cells and in the others.
summary = result.word_summary()
table = summary.pivot_table(index="layer", columns=["direction", "cells"], values="mean")
print("\nMean recovery over pairs (0 = corrupt run, 1 = clean run):")
print(table.round(2).to_string())

# %% The same pairs corrupted by white noise at 0 dB: over the whole clip, over the word only.
# White noise at 0 dB can push samples past [-1, 1], so Whisper's input check may warn.
noises = [NoiseCorruption("white", 0.0, "clip"), NoiseCorruption("white", 0.0, "word")]
rows = compare_corruptions(
    model, pairs, noises, layers=COMPARE_LAYERS, granularity="words", progress=False
)
corruptions = corruption_table(rows)
print("\nDenoising maps per corruption (peak recovery; sharpness = share on the changed word):")
print(corruptions.round(2).to_string(index=False))
# Per pair: a corruption whose map has no positive recovery anywhere has no sharpness (NaN),
# and the table's mean is then over the other pairs.
print("\nSharpness per pair:")
print(rows.pivot_table(index="pair", columns="corruption", values="sharpness").round(2).to_string())

# %% The published direction of the effect.
denoise = summary[summary["direction"] == "denoise"].set_index(["layer", "cells"])["mean"]
sharpness = corruptions.set_index(["corruption", "layer"])["sharpness"]
for layer in LAYERS:
    assert denoise[layer, "changed word"] > 0.8, (
        f"layer {layer}: the changed word's frames should bring the answer back when denoised, "
        f"mean recovery {denoise[layer, 'changed word']:.2f}"
    )
    assert denoise[layer, "other words"] < 0.2, (
        f"layer {layer}: the other words' frames should carry no recovery, "
        f"mean {denoise[layer, 'other words']:.2f}"
    )
for layer in COMPARE_LAYERS:
    pair_sharpness = sharpness["minimal pair", layer]
    noise_sharpness = sharpness[noises[0].name, layer]
    assert pair_sharpness > noise_sharpness, (
        f"layer {layer}: minimal pairs should map the word more sharply than whole-clip noise, "
        f"sharpness {pair_sharpness:.2f} vs {noise_sharpness:.2f}"
    )
print("\nChecks passed: the changed word carries the recovery; minimal pairs beat clip noise.")
