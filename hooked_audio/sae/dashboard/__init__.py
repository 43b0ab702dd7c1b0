"""Feature dashboards for SAEs on audio activations: what each feature responds to in an
activation store (`feature_examples`: top activating rows with their clip, time and word,
density, mean activation), figures of an example's log-mel with the feature's activation at
its true times (`example_figure`) and of feature density (`density_figure`), and a
self-contained HTML page with audio snippets to play (`write_dashboard`)."""

from hooked_audio.sae.dashboard.examples import FeatureExample, FeatureExamples, feature_examples
from hooked_audio.sae.dashboard.figures import (
    ClipMels,
    crop_activations,
    density_figure,
    example_figure,
    snippet_span,
)
from hooked_audio.sae.dashboard.page import logit_effects, write_dashboard

__all__ = [
    "ClipMels",
    "FeatureExample",
    "FeatureExamples",
    "crop_activations",
    "density_figure",
    "example_figure",
    "feature_examples",
    "logit_effects",
    "snippet_span",
    "write_dashboard",
]
