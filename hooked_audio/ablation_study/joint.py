"""`transcribe_ablated`: transcripts of a clip set with several sites ablated at once (the top
heads an ablation study found, say), scored like the study's rows. Two heads of one layer
stack on the same hook: each replaces its own slice."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hooked_audio.ablation_study.clips import TranscriptClip, check_clips
from hooked_audio.interventions import (
    AblationSite,
    ablation_hook,
    collect_reference_pools,
)
from hooked_audio.metrics.transcripts import clip_scores, text_normaliser
from hooked_audio.models.loading import model_family


def transcribe_ablated(
    model,
    clips: list[TranscriptClip],
    sites: Sequence[AblationSite] = (),
    ablation: str = "zero",
    reference_clips: list[TranscriptClip] | None = None,
    normaliser: str = "english",
    batch_size: int = 16,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per clip: its transcript with every site of `sites` ablated together (none:
    the model as it is) and `hooked_audio.metrics.transcripts.clip_scores`."""
    check_clips(clips, False, "")
    family = model_family(model)
    check_sites(family, sites)
    pools = None
    if sites and ablation != "zero":
        if not reference_clips:
            raise ValueError(f"A {ablation} ablation needs reference_clips.")
        reference = family.transcriber([c.audio for c in reference_clips], batch_size)
        pools = collect_reference_pools(list(sites), reference, seed=seed)
    hooks = [
        (site.hook_name, ablation_hook(site, ablation, pools and pools[site.key], seed))
        for site in sites
    ]
    texts = family.transcriber([clip.audio for clip in clips], batch_size)(hooks)
    normalise = text_normaliser(normaliser)
    return pd.DataFrame(
        [
            {
                "clip": clip.name,
                "transcript": text,
                **clip_scores(text, clip.seconds, clip.reference, normalise),
            }
            for clip, text in zip(clips, texts, strict=True)
        ]
    )


def check_sites(family, sites: Sequence[AblationSite]) -> None:
    """Refuse sites the family does not have (another model's, or a repeated one)."""
    keys = [site.key for site in sites]
    if len(set(keys)) != len(keys):
        raise ValueError(f"Sites repeat: {sorted({k for k in keys if keys.count(k) > 1})}.")
    known = {
        site.key: site
        for component in getattr(family, "ablation_components", ())
        for site in family.ablation_sites(component)
    }
    unknown = [site.key for site in sites if known.get(site.key) != site]
    if unknown:
        raise ValueError(f"{family.name} has no ablation sites {unknown}.")
