"""Bad input is refused before any probe is fitted, with an error that names the problem and
the fix: a constant label (overall, or in a fold's training clips), labels not aligned with the
stored rows, an unknown hook or layer, too few clips to hold any out, a class of one clip,
clips without word times, and scikit-learn missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hooked_audio.probes import (
    ProbeLabels,
    speaker_labels,
    speech_labels,
    train_probes,
    word_labels,
)
from tests.probes.synthetic_store import CARRIER, synthetic_clips, synthetic_store


def per_clip(store, labels_of_clip) -> list:
    return [labels_of_clip(c) for c in store.frame(store.hooks[0])["clip"]]


def test_a_constant_label_is_refused(store):
    with pytest.raises(ValueError, match=r"'label' is constant \(only 'a'\)"):
        train_probes(store, per_clip(store, lambda c: "a"), progress=False)
    with pytest.raises(ValueError, match="no labelled row at all"):
        train_probes(store, per_clip(store, lambda c: None), progress=False)


def test_a_label_constant_in_a_folds_training_clips_is_refused(store, monkeypatch):
    import sklearn.model_selection

    class AllSpeechHeldOut:  # a fold that holds out every speech clip
        def __init__(self, **options):
            pass

        def split(self, x, y, groups):
            speech = np.array([g.startswith("speech") for g in groups])
            yield np.flatnonzero(~speech), np.flatnonzero(speech)
            yield np.flatnonzero(speech), np.flatnonzero(~speech)

    monkeypatch.setattr(sklearn.model_selection, "StratifiedGroupKFold", AllSpeechHeldOut)
    labels = per_clip(store, lambda c: c.split("-")[0])  # "speech" / "silence" per clip
    with pytest.raises(
        ValueError, match=r"constant \(\['silence'\]\) in the training split of fold 0"
    ):
        train_probes(store, labels, progress=False)


def test_labels_not_aligned_with_the_stored_rows_are_refused(store, speech, tmp_path):
    with pytest.raises(ValueError, match=r"stored rows but 3 labels"):
        train_probes(store, ["a", "b", "a"], progress=False)
    short = ProbeLabels(speech.name, speech.values[1:], speech.clip[1:], speech.time_s[1:])
    with pytest.raises(ValueError, match="built for another store"):
        train_probes(store, short, progress=False)
    # the same clips written in another order: as many rows, but not the same rows
    other = synthetic_store(tmp_path, synthetic_clips()[::-1])
    with pytest.raises(
        ValueError, match="not aligned with the stored rows.*row 0 is clip 'silence-3'"
    ):
        train_probes(other, speech, progress=False)
    with pytest.raises(TypeError, match="one label per stored row"):
        train_probes(store, "speech", progress=False)


def test_unknown_hooks_and_layers_are_refused(store, speech, speech_results):
    with pytest.raises(
        ValueError, match=r"layers \[7\] are not among the stored hooks' layers \[0, 1, 2\]"
    ):
        train_probes(store, speech, layers=[1, 7], progress=False)
    with pytest.raises(
        ValueError, match=r"hooks \['blocks.9.hook_resid_post'\] are not in the store"
    ):
        train_probes(store, speech, hooks=["blocks.9.hook_resid_post"], progress=False)
    with pytest.raises(ValueError, match="Layer 5 has no probed hook"):
        speech_results.direction(5)
    with pytest.raises(ValueError, match="No probe on 'blocks.1.hook_z'"):
        speech_results.direction("blocks.1.hook_z")
    only_one = train_probes(store, speech, layers=1, progress=False)
    assert list(only_one.table["hook"]) == [CARRIER]


def test_too_few_clips_and_classes_of_one_clip_are_refused(store):
    one_clip = per_clip(store, lambda c: None if c != "speech-0" else "x")
    rows = store.frame(store.hooks[0])
    one_clip = [None if v is None else ("a" if i % 2 else "b") for i, v in enumerate(one_clip)]
    assert len(one_clip) == len(rows)
    with pytest.raises(ValueError, match=r"rows in 1 clip\(s\): too few clips to hold any out"):
        train_probes(store, one_clip, progress=False)
    lonely = per_clip(store, lambda c: "odd" if c == "speech-3" else "even")
    with pytest.raises(ValueError, match=r"classes \['odd'\] occur in one clip only"):
        train_probes(store, lonely, progress=False)
    with pytest.raises(
        ValueError, match=r"folds must be an integer from 2 to the number of labelled clips \(12\)"
    ):
        train_probes(store, per_clip(store, lambda c: c[:2]), folds=13, progress=False)


def test_bad_probe_options_are_refused(store, speech):
    with pytest.raises(ValueError, match="C .* must be a number > 0"):
        train_probes(store, speech, C=0, progress=False)
    with pytest.raises(ValueError, match="class_weight must be None or 'balanced'"):
        train_probes(store, speech, class_weight="even", progress=False)
    with pytest.raises(ValueError, match="n_bootstrap must be an integer >= 1"):
        train_probes(store, speech, n_bootstrap=0, progress=False)


def test_clips_without_word_times_must_be_named(store, silent_clips):
    with pytest.raises(
        ValueError, match=r"Clips \['silence-0'.*have no word times.*non_speech_clips"
    ):
        speech_labels(store)
    with pytest.raises(ValueError, match=r"non_speech_clips \['speech-0'\] have word times"):
        speech_labels(store, non_speech_clips=silent_clips + ["speech-0"])
    with pytest.raises(ValueError, match=r"names clips the store does not hold: \['noise-9'\]"):
        speech_labels(store, non_speech_clips=["noise-9"])
    skipped = speech_labels(store, skip_wordless=True)
    assert not skipped.labelled[np.isin(skipped.clip, silent_clips)].any()
    with pytest.raises(ValueError, match=r"words \['four'\] are spoken in no stored row"):
        word_labels(store, words=["one", "four"])
    with pytest.raises(ValueError, match=r"'speaker' is constant \(only 'ann'\)"):
        speaker_labels(store, {"speech-0": "ann"})


def test_a_missing_scikit_learn_names_the_extra(store, speech, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` raises ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[probes\]"'):
        train_probes(store, speech, progress=False)
