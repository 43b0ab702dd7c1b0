"""SAELens, imported when an SAE is trained or loaded, with an error that says how to get it.

SAELens 6.x requires transformer-lens<4 (it imports modules TransformerLens 4.0 removed), while
this library runs on transformer-lens 3.9 or 4.x. The `sae` extra pins SAELens, so pip picks
transformer-lens 3.9 for an environment with SAEs and the newest 4.x otherwise. Splicing an SAE
(`hooked_audio.sae_splice`) needs no SAELens import."""

from __future__ import annotations

from types import ModuleType

INSTALL = 'pip install -e ".[sae]"'


def sae_lens() -> ModuleType:
    """The `sae_lens` module, or an ImportError naming the extra that installs it."""
    try:
        import sae_lens
    except ImportError as error:
        raise ImportError(
            f"SAE training and loading use SAELens, which is not importable here ({error}). "
            f"Install the sae extra: `{INSTALL}` (or `pip install 'hooked-audio[sae]'`); SAELens "
            "needs transformer-lens<4, so pip installs transformer-lens 3.9 with it."
        ) from error
    return sae_lens
