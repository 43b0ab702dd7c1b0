"""Tutorial 5: alignment heads for word timing, chosen on held-out speech.

openai-whisper times words by DTW over a fixed set of decoder cross-attention heads that
OpenAI published for each checkpoint. `find_alignment_heads` chooses a set for any Whisper
from reference word times that do not come from the model: here, sentences synthesised with
espeak-ng, whose word events give each word's start. The heads are ranked on one group of
sentences, the number of heads kept is chosen on a second group, and both the chosen set and
the official one then time a third group that neither step saw.

Expected: on tiny.en the chosen set times the third group's word starts better than the
official heads (lower mean start error); base is printed beside it.

Run: `python tutorials/05_alignment_heads.py` (about a minute on 2 CPU cores).
"""

# %% Reference clips: synthesised sentences and their word start times (espeak-ng's events).
from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.alignment_heads import alignment_error, find_alignment_heads
from hooked_audio.models.whisper.reference_words import TimedClip
from hooked_audio.pairs.tts import speak

RANK = [
    "The old man walked slowly down the quiet street.",
    "My sister bought a blue car last winter.",
    "We will plant tomatoes in the garden tomorrow.",
    "The train to London leaves at seven tonight.",
    "Please send me the report before Friday.",
]
CHOOSE = [
    "A small dog was sleeping under the kitchen table.",
    "They painted the fence white during the summer.",
    "Our teacher told a funny story about her cat.",
]
TEST = [
    "The children played football near the river.",
    "He forgot his umbrella at the station again.",
    "Fresh bread smells wonderful in the morning.",
]


def clips(sentences: list[str], group: str) -> list[TimedClip]:
    out = []
    for i, sentence in enumerate(sentences):
        speech = speak(sentence, lead_s=0.3)
        out.append(TimedClip(f"{group}-{i}", speech.audio, tuple(speech.words)))
    return out


rank, choose, test = clips(RANK, "rank"), clips(CHOOSE, "choose"), clips(TEST, "test")

# %% Per model: choose a set, then time the test sentences with it and with the official heads.
print("model    heads chosen                  test words  official (ms)  chosen (ms)")
results = {}
for name in ("tiny.en", "base"):
    model = HookedWhisper.from_pretrained(name)
    search = find_alignment_heads(model, rank, choose, max_heads=8)
    official = alignment_error(model, test)
    chosen = alignment_error(model, test, search.heads)
    results[name] = (official, chosen)
    print(
        f"{name:<8} {str(search.heads):<29} {chosen['n_words']:>10}  "
        f"{official['mean_error_ms']:>13.1f}  {chosen['mean_error_ms']:>11.1f}"
    )

# %% The chosen set must time unseen speech better than the official heads on tiny.en.
official, chosen = results["tiny.en"]
assert chosen["mean_error_ms"] < official["mean_error_ms"], results
print("tiny.en: the chosen heads time the test sentences better than the official heads.")
