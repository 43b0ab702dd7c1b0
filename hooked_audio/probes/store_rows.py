"""The rows every hook of an activation store shares (clip, window, position, time_s, word):
what the label builders label. Every hook of a store is written for the same positions of the
same clips, so the first hook's rows stand for all (training checks each hook's rows again)."""

from __future__ import annotations

import pandas as pd


def store_rows(store) -> pd.DataFrame:
    if not store.hooks:
        raise ValueError(f"{store!r} holds no hook: nothing to label.")
    return store.frame(store.hooks[0])


def check_clip_names(store, clips, what: str) -> list[str]:
    """`clips` (ids) as a list, each a finished clip of `store`; else a ValueError."""
    clips = [clips] if isinstance(clips, str) else [str(c) for c in clips]
    unknown = sorted(set(clips) - set(store.clips))
    if unknown:
        raise ValueError(
            f"{what} names clips the store does not hold: {unknown}. Its clips: {store.clips}."
        )
    return clips
