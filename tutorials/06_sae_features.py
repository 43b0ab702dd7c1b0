"""Tutorial 6: what does an SAE on Whisper's encoder pick up, and does the model use it?

Train a TopK sparse autoencoder with SAELens on tiny.en's `encoder.blocks.2.hook_resid_post`
(one row per 20 ms frame) over the bundled clips and six synthesised sentences, in seconds.
Then: how well it reconstructs the layer and what the decoder loses running on the
reconstruction; which words each feature fires on (its top frames in the store, with their
words); and a causal check on the "We will meet in Paris / Berlin next summer" pair: with the SAE
spliced in (error term kept, so the model is unchanged), zeroing the features that fire most on
"Paris" during the word's frames lowers the logit difference " Paris" - " Berlin" more than
zeroing the same features during "next summer".

Expected: explained variance well above 0.5; most of the loss of zeroing the layer recovered;
the ablation on the word's own frames moves the answer more than the same ablation elsewhere.

Run: `python tutorials/06_sae_features.py` (needs the sae extra; about a minute on 2 CPU cores).
"""

# %% Activations: the bundled clips and six synthesised sentences, into a store.
import tempfile
from pathlib import Path

import numpy as np
import torch

from hooked_audio import HookedWhisper
from hooked_audio.activation_store import (
    SPEECH_SENTENCES,
    ActivationStore,
    bundled_clips,
    synthesised_clips,
    write_activations,
)
from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
from hooked_audio.models.whisper.transcript_loss import TranscriptLoss
from hooked_audio.pairs import bundled_pairs
from hooked_audio.sae import ActivationBatches, reconstruction_stats, spliced_loss, train_sae
from hooked_audio.sae.dashboard import feature_examples

torch.manual_seed(0)
model = HookedWhisper.from_pretrained("tiny.en")
HOOK = "encoder.blocks.2.hook_resid_post"
clips = bundled_clips() + synthesised_clips(SPEECH_SENTENCES)  # espeak-ng, a rate and pitch each
folder = Path(tempfile.mkdtemp()) / "acts"
source = WhisperEncoderSource(model, "tiny.en")
store = ActivationStore(write_activations(source, clips, [HOOK], folder, progress=False))
print(f"{len(store.clips)} clips, {int(store.clip_info['rows'].sum())} frames of speech")

# %% Train SAELens's TopK SAE: 512 features, 32 active per frame.
batches = ActivationBatches.from_store(store, HOOK, batch_size=256)
sae = train_sae(
    batches,
    HOOK,
    d_sae=512,
    training_samples=50_000,
    architecture="topk",
    k=32,
    lr=2e-3,
    model_name="tiny.en",
)
stats = reconstruction_stats(sae, ActivationBatches.from_store(store, HOOK, 1024, seed=7), 4)
loss = spliced_loss(model, sae, TranscriptLoss(model, clips[:8]))
print(
    f"\nexplained variance {stats.explained_variance:.2f}, L0 {stats.l0:.0f}, "
    f"dead {stats.dead_fraction:.0%}"
)
print(
    f"decoder loss per token: clean {loss.clean:.2f}, on the reconstruction {loss.spliced:.2f}, "
    f"layer zeroed {loss.zero_ablated:.2f} -> recovered {loss.recovered:.2f}"
)

# %% Which words do features fire on? Each feature's top frames in the store, with their words.
examples = feature_examples(sae, store, k=10)
print("\nfeature  density  top word (share of its 10 top frames)")
shown = 0
for f in examples.top_features(60, by="max"):
    words = [e.word for e in examples.examples(f) if e.word]
    if len(words) < 6:
        continue  # fires mostly where no word is timed (pauses, unlabelled clips)
    top = max(set(words), key=words.count)
    print(f"{f:7d}  {examples.density[f]:7.3f}  {top!r} ({words.count(top)}/10)")
    shown += 1
    if shown == 8:
        break

# %% Causal check on "Paris": zero the features that fire most on it, on its frames or elsewhere.
pair = next(p for p in bundled_pairs() if p.id == "paris-berlin")
words = {w: (s, e) for w, s, e in pair.meta["clean_words"]}
frames = lambda start, end: list(range(int(start / 0.02), int(np.ceil(end / 0.02))))
paris = frames(*words["Paris"])
elsewhere = frames(words["next"][0], words["summer"][1])
mel = model.to_mel(pair.clean_audio)
prompt = model.to_tokens(" We will meet in")
answer = model.to_single_token(" Paris"), model.to_single_token(" Berlin")
FEATURES = f"{HOOK}.hook_sae_acts_post"


def logit_diff(fwd_hooks=()):
    with torch.no_grad():
        logits = model.run_with_hooks(mel, prompt, fwd_hooks=list(fwd_hooks))
    return float(logits[0, -1, answer[0]] - logits[0, -1, answer[1]])


with model.saes([sae], use_error_term=True):
    _, cache = model.run_with_cache(mel, prompt, names_filter=[FEATURES])
    on_paris = cache[FEATURES][0, paris].mean(0)
    chosen = on_paris.argsort(descending=True)[:5].tolist()

    def zero(where):
        def hook(acts, hook):
            acts[:, where] = acts[:, where].index_fill(-1, torch.tensor(chosen), 0.0)
            return acts

        return [(FEATURES, hook)]

    base = logit_diff()
    on_word = logit_diff(zero(paris))
    off_word = logit_diff(zero(elsewhere))
print(f"\nfeatures firing most on 'Paris': {chosen}")
print(f"logit diff ' Paris' - ' Berlin': {base:.2f} unedited")
print(f"  features zeroed on 'Paris' ({len(paris)} frames):        {on_word:.2f}")
print(f"  same features zeroed on 'next summer' ({len(elsewhere)} frames): {off_word:.2f}")

# %% The direction of the effects.
assert stats.explained_variance > 0.5, stats
assert loss.recovered > 0.5, loss
assert base - on_word > base - off_word, (base, on_word, off_word)
assert base - on_word > 0.5, "zeroing the word's own features should move the answer"
