"""What one row of a study patched (a layer's activation, or one head of it), as a label, and
the labels in layer order: what the result's summaries, the figures and the report share."""

from __future__ import annotations

import pandas as pd

#: what one row patched: a layer's activation, or one head of it (`head` NaN for a whole layer)
SITE_KEYS = ["layer", "head"]


def site_labels(rows: pd.DataFrame) -> pd.Series:
    """`"layer 2"` for a whole layer's activation, `"L2H5"` for head 5 of layer 2."""
    return pd.Series(
        [
            f"layer {int(layer)}" if pd.isna(head) else f"L{int(layer)}H{int(head)}"
            for layer, head in zip(rows["layer"], rows["head"])
        ],
        index=rows.index,
        dtype=object,
    )


def ordered_sites(frame: pd.DataFrame) -> list[str]:
    """The site labels (`site_labels`) of `frame`'s rows from the first layer to the last, a
    whole layer before its heads, heads in order within a layer."""
    sites = frame[SITE_KEYS].drop_duplicates()
    sites = sites.assign(head_order=sites["head"].fillna(-1)).sort_values(["layer", "head_order"])
    return list(site_labels(sites))
