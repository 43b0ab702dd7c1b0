"""scikit-learn, imported when a probe is trained, with an error that says how to get it.

The probes are scikit-learn's own `LogisticRegression` behind a `StandardScaler` (a maintained
solver with a convergence check, rather than an optimiser written here); scikit-learn is the
`probes` extra, so the rest of the library does not pull it (and SciPy) in."""

from __future__ import annotations

from types import ModuleType

INSTALL = 'pip install -e ".[probes]"'


def sklearn() -> ModuleType:
    """The `sklearn` module, or an ImportError naming the extra that installs it."""
    try:
        import sklearn
    except ImportError as error:
        raise ImportError(
            f"Linear probes use scikit-learn, which is not importable here ({error}). Install "
            f"the probes extra: `{INSTALL}` (or `pip install 'hooked-audio[probes]'`)."
        ) from error
    return sklearn
