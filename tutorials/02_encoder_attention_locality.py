"""Tutorial 2: how far does Whisper's encoder need to look? Local attention masks.

Every encoder self-attention layer may attend across the whole 30 s window (1500 frames of
20 ms). Here a hook on `encoder.blocks.{l}.attn.hook_attn_scores` sets every pre-softmax
score with |query - key| > k frames to -inf, in every layer, so each frame only sees its
neighbours within +-k frames (+-20k ms). openai-whisper's own `whisper.transcribe` runs on the
hooked model, and the masked transcript is scored against the unmasked one by word error rate
(WER: word-level edit distance over the reference's length, after openai-whisper's English
text normaliser; the edit distance is the small function below, so no extra package).

Published claim checked: tiny.en keeps its transcript of the JFK clip for k >= 75 (+-1.5 s)
and loses it for k <= 10 (+-0.2 s). k = 1500 masks nothing: a control that the hook (and the
materialised attention it forces) changes nothing.

Run: `python tutorials/02_encoder_attention_locality.py` (about 20 s on 2 CPU cores).
"""

# %% Load the model and the bundled JFK clip; transcribe it unmasked.
from importlib.resources import files

import torch
import whisper
from whisper.normalizers import EnglishTextNormalizer

from hooked_audio import HookedWhisper, load_audio

WINDOWS = (5, 10, 25, 50, 75, 100, 200, 1500)  # k: frames each query may look either side
# Greedy, deterministic decoding as in `hooked-audio demo`; verbose=None prints nothing.
OPTIONS = dict(
    fp16=False, language="en", temperature=0.0, condition_on_previous_text=False, verbose=None
)

model = HookedWhisper.from_pretrained("tiny.en")
audio = load_audio(files("hooked_audio") / "data" / "jfk.flac")
with torch.no_grad():
    reference = whisper.transcribe(model, audio, **OPTIONS)["text"].strip()
print(f"Unmasked transcript: {reference!r}")

# %% Word error rate against the unmasked transcript.
normalise = EnglishTextNormalizer()  # lower case, no punctuation, spelled-out numbers unified


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalising both."""
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    # Levenshtein distance over words, one row of the table at a time: row[j] is the distance
    # between the reference words seen so far and the first j hypothesis words.
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            substitute = diagonal + (ref_word != hyp_word)
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, substitute)
    return row[-1] / max(len(ref), 1)


# %% The mask: a hook on the pre-softmax scores [batch, head, query_pos, key_pos].
def local_attention(k: int):
    """A hook that keeps only the scores of keys within k frames of their query."""

    def hook(scores: torch.Tensor, hook) -> torch.Tensor:
        positions = torch.arange(scores.shape[-1], device=scores.device)
        too_far = (positions[:, None] - positions[None, :]).abs() > k  # [query_pos, key_pos]
        return scores.masked_fill(too_far, float("-inf"))  # same shape as it came in

    return hook


score_hooks = [f"encoder.blocks.{l}.attn.hook_attn_scores" for l in range(model.dims.n_audio_layer)]
results = {}
print(f"\n{'k':>5} {'+-ms':>6} {'WER':>5}  transcript")
for k in WINDOWS:
    hooks = [(name, local_attention(k)) for name in score_hooks]
    with torch.no_grad(), model.hooks(fwd_hooks=hooks):
        text = whisper.transcribe(model, audio, **OPTIONS)["text"].strip()
    results[k] = word_error_rate(reference, text)
    print(f"{k:5d} {20 * k:6d} {results[k]:5.2f}  {text!r}")

# %% The published direction of the effect.
assert results[1500] == 0.0, f"masking nothing must change nothing, WER {results[1500]:.2f}"
for k, wer in results.items():
    if k >= 75:
        assert wer <= 0.1, f"k={k}: tiny.en should keep its transcript, WER {wer:.2f}"
    if k <= 10:
        assert wer >= 0.5, f"k={k}: tiny.en should lose its transcript, WER {wer:.2f}"
print("\nChecks passed: the transcript survives +-75 frames of attention and dies at +-10.")
