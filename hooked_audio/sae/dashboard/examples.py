"""What each SAE feature responds to in an activation store: its top-k activating rows (with the
clip, time and word of each), its density and its mean activation when active.

`feature_examples(sae, store)` reads the store clip by clip and encodes each clip's rows with
the SAE `chunk_rows` at a time, so memory holds one chunk's features (`chunk_rows x d_sae`
float32) and the running top-k, however large the store. Only rows where a feature is active
(> 0) count as its examples: a feature active on fewer than `k` rows has fewer examples, and a
feature that never fired (dead) has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from hooked_audio.activation_store.store import ActivationStore
from hooked_audio.checks import as_index, check_count, check_indices
from hooked_audio.sae_splice import sae_hook_name

#: what `FeatureExamples.top_features` can rank live features by
RANKINGS = ("density", "max")
#: a feature whose top examples all sit in a window's first positions (20 ms each) fires on
#: where the window starts, not on a sound: Whisper's first encoder positions behave unlike
#: the rest, in leading silence too
ARTEFACT_POSITIONS = 2


@dataclass(frozen=True)
class FeatureExample:
    """One of a feature's top activating rows: `rank` 0 is its largest activation. `time_s`
    is the start of the row's 20 ms position in seconds from the clip's start; `word` is the
    clip's word there (None: between words, or the clip has no word times)."""

    feature: int
    rank: int
    value: float
    clip: str
    window: int
    position: int
    time_s: float
    word: str | None


@dataclass(eq=False)
class FeatureExamples:
    """The result of `feature_examples`: per requested feature (`features[i]` is row `i` of
    every `[n, ...]` array), its top-k rows (`values` `[n, k]`, largest first, NaN past the
    feature's active rows, with `clip`, `window`, `position`, `time_s` and `word` of each), how
    many rows it was active on (`active_rows`), `density` (`active_rows / rows`) and
    `mean_active` (mean activation over its active rows, NaN for a dead feature)."""

    hook: str
    model_name: str
    d_in: int
    d_sae: int
    k: int
    rows: int
    clips: list[str]
    features: np.ndarray
    values: np.ndarray
    clip: np.ndarray
    window: np.ndarray
    position: np.ndarray
    time_s: np.ndarray
    word: np.ndarray
    active_rows: np.ndarray
    density: np.ndarray
    mean_active: np.ndarray

    def index_of(self, feature: int) -> int:
        feature = as_index(feature, "A feature")
        where = np.flatnonzero(self.features == feature)
        if not len(where):
            raise KeyError(
                f"Feature {feature} was not among those examined ({len(self.features)} "
                "features); call feature_examples with it in `features`."
            )
        return int(where[0])

    @property
    def max_value(self) -> np.ndarray:
        """Each feature's largest activation over the store (NaN for a dead feature)."""
        return self.values[:, 0]

    @property
    def dead(self) -> np.ndarray:
        """The features (of those examined) that were never > 0 on any row."""
        return self.features[self.active_rows == 0]

    @property
    def dead_fraction(self) -> float:
        return float((self.active_rows == 0).mean()) if len(self.features) else float("nan")

    def examples(self, feature: int) -> list[FeatureExample]:
        """`feature`'s top activating rows, largest first (fewer than `k` if it was active on
        fewer rows; none if it is dead)."""
        i = self.index_of(feature)
        return [
            FeatureExample(
                feature=int(self.features[i]),
                rank=rank,
                value=float(self.values[i, rank]),
                clip=str(self.clip[i, rank]),
                window=int(self.window[i, rank]),
                position=int(self.position[i, rank]),
                time_s=float(self.time_s[i, rank]),
                word=self.word[i, rank],
            )
            for rank in range(self.k)
            if not np.isnan(self.values[i, rank])
        ]

    def position_artefact(self, feature: int) -> bool:
        """Whether every top example of a live `feature` sits in a window's first
        `ARTEFACT_POSITIONS` positions (it marks where windows start, not a sound)."""
        i = self.index_of(feature)
        active = ~np.isnan(self.values[i])
        return bool(active.any() and (self.position[i][active] < ARTEFACT_POSITIONS).all())

    def top_features(self, n: int, by: str = "density") -> list[int]:
        """Up to `n` live features (dead ones skipped), the densest first (`by="density"`) or
        those with the largest activation first (`by="max"`); ties keep feature order.
        Position artefacts (`position_artefact`) come after every other live feature."""
        check_count(n, "n")
        if by not in RANKINGS:
            raise ValueError(f"by must be one of {RANKINGS}, got {by!r}.")
        live = np.flatnonzero(self.active_rows > 0)
        score = self.density[live] if by == "density" else self.values[live, 0]
        artefact = np.array([self.position_artefact(int(self.features[i])) for i in live])
        order = live[np.lexsort((-score, artefact))] if len(live) else live
        return [int(f) for f in self.features[order[:n]]]

    def summary(self) -> pd.DataFrame:
        """One row per examined feature: feature, active_rows, density, mean_active, max."""
        return pd.DataFrame(
            {
                "feature": self.features,
                "active_rows": self.active_rows,
                "density": self.density,
                "mean_active": self.mean_active,
                "max": self.max_value,
            }
        )

    def frame(self) -> pd.DataFrame:
        """Every example as a row: feature, rank, value, clip, window, position, time_s, word."""
        records = [vars(e) for f in self.features for e in self.examples(int(f))]
        columns = ["feature", "rank", "value", "clip", "window", "position", "time_s", "word"]
        return pd.DataFrame(records, columns=columns)


def check_features(features: Any, d_sae: int) -> np.ndarray:
    """`features` (one id, a list of ids, or None for all) as distinct ids of an SAE of
    `d_sae` features."""
    if features is None:
        return np.arange(d_sae)
    if isinstance(features, (int, np.integer)) and not isinstance(features, bool):
        features = [features]
    return np.asarray(check_indices(list(features), d_sae, "features"), dtype=np.int64)


def store_hook(sae: Any, store: ActivationStore, hook: str | None) -> str:
    """The hook to read (`hook`, or the one the SAE was trained on), checked against the
    store and the SAE's input size."""
    if hook is None:
        try:
            hook = sae_hook_name(sae)
        except ValueError:
            raise ValueError(
                "This SAE does not say which hook it was trained on (cfg.metadata.hook_name "
                f"is empty); pass hook= (this store holds {store.hooks})."
            ) from None
    if hook not in store.hooks:
        raise KeyError(
            f"The store at {str(store.directory)!r} holds {store.hooks}, not {hook!r}: pass "
            "hook= one of those, or write the SAE's hook into the store (write_activations)."
        )
    features = store.features(hook)
    if int(sae.cfg.d_in) != features:
        raise ValueError(
            f"The SAE reads {sae.cfg.d_in} features but the store's {hook!r} rows have "
            f"{features}: it was trained on another hook or model. Pass hook= the hook it "
            "was trained on."
        )
    if not store.clips:
        raise ValueError(f"The store at {str(store.directory)!r} has no finished clip yet.")
    return hook


def model_name(sae: Any) -> str:
    metadata = getattr(sae.cfg, "metadata", None)
    return str(getattr(metadata, "model_name", None) or "not recorded")


def _merge(old: np.ndarray, new: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The running top-k's column `old` `[k, n]` and a chunk's candidates `new`, reordered."""
    return np.take_along_axis(np.concatenate([old, new]), order, axis=0)


@torch.no_grad()
def encode_rows(sae: Any, rows: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
    """`sae.encode` of `rows` `[n, d_in]` as float32 numpy `[n, d_sae]` (or only `columns`)."""
    device = sae.W_dec.device
    x = torch.from_numpy(np.array(rows, dtype=np.float32)).to(device)  # a writable copy
    acts = sae.encode(x)
    if columns is not None:
        acts = acts[:, torch.as_tensor(columns, device=acts.device)]
    return acts.float().cpu().numpy()


def feature_examples(
    sae: Any,
    store: ActivationStore | str,
    hook: str | None = None,
    features: Sequence[int] | None = None,
    k: int = 8,
    chunk_rows: int = 8192,
) -> FeatureExamples:
    """For each of `features` (default: all of the SAE's), its `k` top activating rows in
    `store`'s `hook` (default: the hook the SAE was trained on), its density and mean
    activation when active (module docstring)."""
    store = store if isinstance(store, ActivationStore) else ActivationStore(store)
    check_count(k, "k")
    check_count(chunk_rows, "chunk_rows")
    d_sae = int(sae.cfg.d_sae)
    chosen = check_features(features, d_sae)
    hook = store_hook(sae, store, hook)
    n = len(chosen)
    # The running top-k, [k, n] (one column per feature), and where each came from.
    top = np.full((k, n), np.nan)
    clip_of = np.full((k, n), -1, dtype=np.int64)
    window = np.full((k, n), -1, dtype=np.int64)
    position = np.full((k, n), -1, dtype=np.int64)
    time_s = np.full((k, n), np.nan)
    word = np.full((k, n), None, dtype=object)
    active = np.zeros(n, dtype=np.int64)
    active_sum = np.zeros(n, dtype=np.float64)
    rows = 0
    columns = None if features is None else chosen
    for c, clip in enumerate(store.clips):
        frame = store.frame(hook, clip)
        values = store.array(hook, clip)
        for start in range(0, len(values), chunk_rows):
            acts = encode_rows(sae, values[start : start + chunk_rows], columns)
            on = acts > 0
            active += on.sum(0)
            active_sum += (acts * on).sum(0, dtype=np.float64)  # float32 in memory
            if len(acts) > k:
                pick = np.argpartition(-acts, k - 1, axis=0)[:k]
            else:
                pick = np.broadcast_to(np.arange(len(acts))[:, None], acts.shape)
            candidate = np.take_along_axis(acts, pick, axis=0).astype(np.float64)
            candidate[candidate <= 0] = np.nan  # only active rows are examples
            both = np.concatenate([top, candidate])
            # largest first; NaN (no example) last; ties: the earlier row first
            order = np.argsort(np.where(np.isnan(both), np.inf, -both), axis=0, kind="stable")
            order = order[:k]
            chunk = frame.iloc[start : start + len(acts)]  # `pick` indexes its rows
            words = np.array([w if isinstance(w, str) else None for w in chunk["word"]], object)
            top = np.take_along_axis(both, order, axis=0)
            clip_of = _merge(clip_of, np.full(pick.shape, c, dtype=np.int64), order)
            window = _merge(window, chunk["window"].to_numpy(np.int64)[pick], order)
            position = _merge(position, chunk["position"].to_numpy(np.int64)[pick], order)
            time_s = _merge(time_s, chunk["time_s"].to_numpy(np.float64)[pick], order)
            word = _merge(word, words[pick], order)
        rows += len(values)
    ids = np.array(store.clips + [None], dtype=object)  # -1 (no example) reads None
    empty = np.isnan(top)
    window[empty] = position[empty] = -1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_active = np.where(active > 0, active_sum / np.maximum(active, 1), np.nan)
    return FeatureExamples(
        hook=hook,
        model_name=model_name(sae),
        d_in=int(sae.cfg.d_in),
        d_sae=d_sae,
        k=k,
        rows=rows,
        clips=store.clips,
        features=chosen,
        values=top.T.copy(),
        clip=ids[clip_of].T.copy(),
        window=window.T.copy(),
        position=position.T.copy(),
        time_s=np.where(empty, np.nan, time_s).T.copy(),
        word=np.where(empty, None, word).T.copy(),
        active_rows=active,
        density=active / rows if rows else np.full(n, np.nan),
        mean_active=mean_active,
    )
