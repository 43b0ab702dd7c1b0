"""The Python blocks of these docs run as written (each document's blocks in order, in one
namespace, as a reader would paste them).

Documents whose blocks use placeholders (a `speech.flac` of the reader's) are not listed yet."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNNABLE = ["adding_a_model.md", "audio_encoder.md"]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("name", RUNNABLE)
def test_doc_blocks_run_as_written(name):
    matplotlib.use("Agg")
    blocks = python_blocks(DOCS / name)
    assert blocks, f"{name} has no python block"
    namespace: dict = {"__name__": f"doc_{name}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{name} block {i}", "exec"), namespace)
