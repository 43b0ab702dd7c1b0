"""Tutorial 3: erase one second from what the encoder says, and its words go with it.

Whisper pads every clip to a 30 s window with silence, and the decoder has learnt to read the
encoder's output over padding as "nothing said here". So we can erase a stretch of speech
without touching the audio: run the encoder once on an all-padding input (the log-mel of 30 s
of zeros, exactly what `whisper.transcribe` pads with), and while transcribing the JFK clip,
copy those padding frames into the encoder's output (`encoder.ln_post.hook_normalized`, the
features the decoder cross-attends to) over a 1 s window.

The words that openai-whisper times inside the window (word timestamps of the unaltered
model; a word is inside when its midpoint is) should disappear from the transcript, and the
words outside should survive. Which words of the original survive is read off an alignment of
the two transcripts (`difflib` on normalised words), so a word that occurs twice in the clip
is only counted as kept where it really is.

Run: `python tutorials/03_erase_encoder_window.py` (about 15 s on 2 CPU cores).
"""

# %% Load the model and the bundled JFK clip; transcribe it with word timings.
import difflib
from importlib.resources import files

import numpy as np
import pandas as pd
import torch
import whisper
from whisper.normalizers import EnglishTextNormalizer

from hooked_audio import HookedWhisper, load_audio

WINDOW_S = (1.0, 2.0)  # the second to erase
OUTPUT_HOOK = "encoder.ln_post.hook_normalized"  # the encoder's output [batch, pos, d_model]
OPTIONS = dict(
    fp16=False, language="en", temperature=0.0, condition_on_previous_text=False, verbose=None
)

model = HookedWhisper.from_pretrained("tiny.en")
audio = load_audio(files("hooked_audio") / "data" / "jfk.flac")
with torch.no_grad():
    plain = whisper.transcribe(model, audio, word_timestamps=True, **OPTIONS)
words = [word for segment in plain["segments"] for word in segment["words"]]

# %% The encoder's output on padding alone: 30 s of zeros, as whisper.transcribe pads a clip.
silence = np.zeros(whisper.audio.N_SAMPLES, dtype=np.float32)
with torch.no_grad():
    padding_features = model.encoder(model.to_mel(silence, sample_rate=whisper.audio.SAMPLE_RATE))

frames_per_second = model.dims.n_audio_ctx / model.window_seconds  # 50: one frame is 20 ms
first, last = (round(t * frames_per_second) for t in WINDOW_S)


def erase_window(features: torch.Tensor, hook) -> torch.Tensor:
    """The encoder output with the window's frames replaced by the padding run's."""
    features = features.clone()
    features[:, first:last] = padding_features[:, first:last].to(features.dtype)
    return features


with torch.no_grad(), model.hooks(fwd_hooks=[(OUTPUT_HOOK, erase_window)]):
    erased = whisper.transcribe(model, audio, **OPTIONS)
print(f"Transcript:            {plain['text'].strip()!r}")
print(f"Erased {WINDOW_S[0]:.1f}-{WINDOW_S[1]:.1f} s (frames {first}-{last - 1}): ", end="")
print(f"{erased['text'].strip()!r}")

# %% Which of the original words survive: align the two transcripts word by word.
normalise = EnglishTextNormalizer()
original = [normalise(word["word"]) for word in words]
after = normalise(erased["text"]).split()
matcher = difflib.SequenceMatcher(None, original, after, autojunk=False)
kept = np.zeros(len(words), dtype=bool)
for block in matcher.get_matching_blocks():
    kept[block.a : block.a + block.size] = True

table = pd.DataFrame(
    {
        "word": [word["word"].strip() for word in words],
        "start_s": [word["start"] for word in words],
        "end_s": [word["end"] for word in words],
        "kept": kept,
    }
)
middle = (table["start_s"] + table["end_s"]) / 2
table["in_window"] = (middle >= WINDOW_S[0]) & (middle < WINDOW_S[1])
print("\nWords of the original transcript, timed by openai-whisper:")
print(table.round(2).to_string(index=False))

inside, outside = table[table["in_window"]], table[~table["in_window"]]
inside_kept, outside_lost = inside["word"][inside["kept"]], outside["word"][~outside["kept"]]
print(f"\nInside the window: {inside['word'].tolist()}, kept {inside['kept'].mean():.0%}")
print(f"Outside the window: {len(outside)} words, kept {outside['kept'].mean():.0%}")

# %% The direction of the effect: the window's words go, the others stay.
assert len(inside) > 0, f"no word is timed inside {WINDOW_S}: choose another window"
assert inside["kept"].mean() < 0.5, (
    f"most words inside the erased window should be gone; kept {inside_kept.tolist()}"
)
assert outside["kept"].mean() > 0.8, (
    f"the words outside the window should survive; lost {outside_lost.tolist()}"
)
print("\nChecks passed: the erased second's words are gone and the rest of the transcript stays.")
