"""Tutorial 4: when does the encoder know what was said? The encoder lens.

`encoder_lens` reads the residual stream after each encoder block through the encoder's final
LayerNorm (`ln_post`) and hands it to the decoder as if it were the encoder's output ("embed"
is the stream entering block 0: the conv stem plus positions). Per layer it reports the
transcript greedy decoding makes of it, and, teacher-forced on the model's own transcript,
the share of its tokens that are the decoder's top choice (accuracy) and their mean log-prob.

Expected: accuracy grows towards the last layer, and the last layer is the model itself
(its lensed features are the encoder's output, so accuracy 1 and the model's own transcript).
As a cross-check against openai-whisper, the last row's text must equal `whisper.decode` on the
same clip without timestamps.

Run: `python tutorials/04_encoder_lens.py` (about 10 s on 2 CPU cores).
"""

# %% Load the model and lens every encoder layer on the bundled JFK clip.
from importlib.resources import files

import torch
import whisper

from hooked_audio import HookedWhisper, load_audio
from hooked_audio.models.whisper.lens import encoder_lens

model = HookedWhisper.from_pretrained("tiny.en")
audio = load_audio(files("hooked_audio") / "data" / "jfk.flac")
lens = encoder_lens(model, audio)

# %% Per layer: teacher-forced accuracy, mean log-prob, and what the decoder makes of it.
print(f"Model's transcript: {lens.text!r}")
print(f"Teacher-forced on its {len(lens.target_tokens)} tokens (with <|endoftext|>):\n")
print(f"{'layer':>5} {'accuracy':>8} {'log-prob':>8}  lensed transcript (shallow layers babble)")
for row in lens.rows:
    print(f"{row.label:>5} {row.accuracy:8.2f} {row.mean_log_prob:8.2f}  {row.text.strip()[:60]!r}")
# `lens.to_dataframe()` holds the same table, and `lens.plot()` draws it.

# %% openai-whisper's own greedy decoding of the clip, for the last row to match.
options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
with torch.no_grad():
    decoded = whisper.decode(model, model.to_mel(audio), options)
print(f"\nwhisper.decode:     {decoded[0].text!r}")

# %% The direction of the effect: the transcript forms in the last layers.
first, last = lens.rows[0], lens.rows[-1]
assert last.accuracy > first.accuracy, (
    f"the last layer should predict the transcript better than the first: "
    f"{last.accuracy:.2f} vs {first.accuracy:.2f}"
)
assert last.mean_log_prob > first.mean_log_prob, "the transcript's log-prob should grow with depth"
assert last.accuracy == 1.0, f"the last layer is the model itself, accuracy {last.accuracy:.2f}"
assert last.text == decoded[0].text, "the last layer should read as openai-whisper's transcript"
print("\nChecks passed: accuracy rises to 1 at the last layer, which is the model's transcript.")
