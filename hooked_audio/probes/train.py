"""`train_probes`: a linear probe per stored hook (layer and site), scored on held-out clips.

For each hook: scikit-learn's `LogisticRegression` (multinomial for more than two classes)
behind a `StandardScaler`, trained on the labelled rows of some clips and tested on the other
clips' rows, fold by fold (`hooked_audio.probes.clip_folds`: every clip held out once, the
same folds for every hook so layers are compared on the same clips). The held-out predictions
give accuracy and balanced accuracy with a bootstrap interval over clips
(`hooked_audio.probes.clip_bootstrap`). A last probe per hook is fitted on all labelled clips:
the one `ProbeResults.direction` reads (for steering)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hooked_audio.checks import check_count, check_flags
from hooked_audio.probes.clip_bootstrap import clip_bootstrap
from hooked_audio.probes.clip_folds import clip_folds
from hooked_audio.probes.hook_layers import choose_hooks
from hooked_audio.probes.labels import ProbeLabels
from hooked_audio.probes.requirement import sklearn
from hooked_audio.probes.results import ProbeResults


def _make_probe(C: float, max_iter: int, class_weight):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight)
    )


def _fit(probe, x: np.ndarray, y: np.ndarray) -> bool:
    """Fit `probe`; whether the solver converged (its warning is recorded, not printed per
    fold: `table["converged"]` reports it)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(x, y)
    return bool(np.all(probe[-1].n_iter_ < probe[-1].max_iter))


def _check_options(C, max_iter, class_weight) -> None:
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0:
        raise ValueError(f"C (inverse regularisation strength) must be a number > 0, got {C!r}.")
    check_count(max_iter, "max_iter")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}.")


def train_probes(
    store,
    labels,
    hooks=None,
    layers=None,
    folds: int | None = None,
    C: float = 1.0,
    max_iter: int = 1000,
    class_weight: str | None = None,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: bool = True,
) -> ProbeResults:
    """Probe `labels` at every chosen hook of `store` (an `ActivationStore`).

    `labels`: `ProbeLabels` from a builder (`speech_labels`, `word_labels`,
    `position_in_word_labels`, `speaker_labels`) or one label per stored row (None/NaN for a
    row left out), in the order of `store.frame(hook)`. `hooks` / `layers`: which hooks
    (default all; `layers` keeps those at these block numbers). `folds`: held-out folds of
    clips (default 5, or one per clip when fewer). `C`, `max_iter`, `class_weight`: passed to
    `LogisticRegression`. `n_bootstrap`, `confidence`, `seed`: the clip bootstrap (and the
    folds' shuffle). Memory holds one hook's rows at a time. Returns `ProbeResults`."""
    sklearn()  # an ImportError naming the probes extra, before any work
    check_flags(progress=progress)
    _check_options(C, max_iter, class_weight)
    chosen = choose_hooks(store, hooks, layers)
    labels = ProbeLabels.for_rows(labels, store.frame(chosen[0].hook), chosen[0].hook)
    for hook in chosen[1:]:
        labels.check_rows(store.frame(hook.hook), hook.hook)
    labels.check_classes()
    keep = labels.labelled
    y = labels.values[keep]  # object: Python strings
    clips = labels.clip[keep]
    splits = clip_folds(y, clips, folds, seed, labels.name)
    fold_of = np.empty(len(y), dtype=np.int64)
    for number, (_, test) in enumerate(splits):
        fold_of[test] = number
    classes = sorted(set(y))

    table, predictions, probes = [], [], {}
    bar = tqdm(total=len(chosen) * (len(splits) + 1), disable=not progress, desc="probes")
    for hook in chosen:
        x = store.array(hook.hook)[keep]
        predicted = np.full(len(y), None, dtype=object)
        converged = True
        for train, test in splits:
            probe = _make_probe(C, max_iter, class_weight)
            converged &= _fit(probe, x[train], y[train])
            predicted[test] = probe.predict(x[test])
            bar.update()
        probes[hook.hook] = probe = _make_probe(C, max_iter, class_weight)
        converged &= _fit(probe, x, y)
        bar.update()
        accuracy, balanced = clip_bootstrap(
            y, predicted, clips, classes, n_bootstrap, confidence, seed
        )
        table.append(
            {
                "hook": hook.hook,
                "layer": hook.layer,
                "site": hook.site,
                "accuracy": accuracy.value,
                "accuracy_low": accuracy.low,
                "accuracy_high": accuracy.high,
                "balanced_accuracy": balanced.value,
                "balanced_accuracy_low": balanced.low,
                "balanced_accuracy_high": balanced.high,
                "chance_accuracy": float(pd.Series(y).value_counts(normalize=True).max()),
                "chance_balanced": 1 / len(classes),
                "rows": len(y),
                "clips": len(set(clips)),
                "converged": converged,
            }
        )
        predictions.append(
            pd.DataFrame(
                {
                    "hook": hook.hook,
                    "clip": clips,
                    "time_s": labels.time_s[keep],
                    "label": y,
                    "predicted": predicted.astype(str),
                    "fold": fold_of,
                }
            )
        )
    bar.close()
    frame = pd.DataFrame(table)
    frame["layer"] = frame["layer"].astype("Int64")
    return ProbeResults(
        labels.name,
        classes,
        frame,
        pd.concat(predictions, ignore_index=True),
        probes,
        [sorted(set(clips[test])) for _, test in splits],
        confidence,
    )
