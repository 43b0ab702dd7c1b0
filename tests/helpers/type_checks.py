"""`unchecked_types()`: for a test that breaks a function's annotations on purpose, to see the
function's own refusal message.

The suite runs with jaxtyping's import hook (`--jaxtyping-packages` in setup.cfg's pytest
options), which checks every call into those packages against its annotations (types, and
shapes named consistently within one call). A call with a float where an `int` is annotated
then fails with jaxtyping's `TypeCheckError` before the function's own check, the one a user
sees, can run. A test of that check makes the call inside `with unchecked_types():`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import jaxtyping


@contextmanager
def unchecked_types() -> Iterator[None]:
    """Switch jaxtyping's checks off for the calls inside (they are checked at call time)."""
    before = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", before)
