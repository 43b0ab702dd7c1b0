"""`AblationWorker`: transcribes a study's clips with one site ablated at a time (or none, the
baseline unit) and scores each transcript. One runs in this process by default; a Ray actor
holds one per worker (`RayAblationExecutor`)."""

from __future__ import annotations

from hooked_audio.ablation_study.clips import TranscriptClip
from hooked_audio.ablation_study.spec import AblationSpec
from hooked_audio.interventions import AblationSite, ablation_hook, collect_reference_pools
from hooked_audio.metrics.transcripts import clip_scores, text_normaliser
from hooked_audio.models.loading import model_family

#: the unit that ablates nothing
BASELINE = "baseline"


class AblationWorker:
    """Holds the model's transcriber of `clips` and, for mean and resample ablation, the
    reference pools of every site, gathered once from `reference_clips`."""

    def __init__(
        self,
        model,
        clips: list[TranscriptClip],
        spec: AblationSpec,
        sites: list[AblationSite],
        reference_clips: list[TranscriptClip] | None = None,
    ):
        family = model_family(model)
        self.clips, self.spec = clips, spec
        self.sites = {site.key: site for site in sites}
        self.transcriber = family.transcriber([clip.audio for clip in clips], spec.batch_size)
        self.normalise = text_normaliser(spec.normaliser)
        self.pools = None
        if spec.ablation != "zero":
            if not reference_clips:
                raise ValueError(
                    f"A {spec.ablation} ablation replaces a site's output with reference "
                    "activations: give reference clips (--reference), or use --ablation zero."
                )
            reference = family.transcriber([c.audio for c in reference_clips], spec.batch_size)
            self.pools = collect_reference_pools(sites, reference, seed=spec.seed)

    def run(self, unit: str) -> tuple[str, list[dict]]:
        """`(unit, rows)`: one row per clip, transcribed with `unit` (a site key, or
        `BASELINE`) ablated."""
        site = None if unit == BASELINE else self.sites[unit]
        hooks = []
        if site is not None:
            pool = None if self.pools is None else self.pools[site.key]
            hooks = [
                (site.hook_name, ablation_hook(site, self.spec.ablation, pool, self.spec.seed))
            ]
        texts = self.transcriber(hooks)
        rows = []
        for clip, text in zip(self.clips, texts, strict=True):
            rows.append(
                {
                    "unit": unit,
                    "component": None if site is None else site.component,
                    "layer": None if site is None else site.layer,
                    "head": None if site is None else site.head,
                    "ablation": None if site is None else self.spec.ablation,
                    "clip": clip.name,
                    "seconds": clip.seconds,
                    "transcript": text,
                    **clip_scores(text, clip.seconds, clip.reference, self.normalise),
                }
            )
        return unit, rows
