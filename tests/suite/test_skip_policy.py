"""The suite's skip policy (tests/helpers/skip_policy.py) does what CI relies on: under
CI=true an unlisted skip fails the run, a listed one does not, and outside CI skips pass;
`_slow` names are marked slow; every skip is reported with its reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.skip_policy import quarantined, unlisted_skips

ROOT = Path(__file__).resolve().parents[2]


def _run(folder: Path, ci: bool, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CI": "true" if ci else "false"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.helpers.skip_policy",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            *args,
            str(folder),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
    )


@pytest.fixture
def suite(tmp_path):
    (tmp_path / "test_example.py").write_text(
        "import pytest\n\n"
        "def test_runs():\n    assert True\n\n"
        "def test_needs_a_browser():\n    pytest.skip('no chromium here')\n\n"
        "def test_takes_long_slow():\n    assert True\n"
    )
    return tmp_path


def test_an_unlisted_skip_fails_a_ci_run_and_is_reported(suite):
    outside = _run(suite, ci=False)
    assert outside.returncode == 0, outside.stdout
    assert "test_needs_a_browser: no chromium here [NOT QUARANTINED]" in outside.stdout
    in_ci = _run(suite, ci=True)
    assert in_ci.returncode == 1, in_ci.stdout
    assert "1 skipped test(s) not listed in tests/QUARANTINES.md" in in_ci.stdout


def test_slow_names_are_deselected_by_the_fast_lane(suite):
    fast = _run(suite, False, "-m", "not slow", "-rA")
    assert "test_takes_long_slow" not in fast.stdout and "1 deselected" in fast.stdout


def test_quarantine_entries_cover_a_test_or_a_module(tmp_path):
    listing = tmp_path / "QUARANTINES.md"
    listing.write_text(
        "# Quarantined tests\n\n"
        "- `tests/a.py::test_x`: needs a GPU\n"
        "- `tests/b.py`: needs the network\n"
    )
    listed = quarantined(listing)
    assert listed == {"tests/a.py::test_x": "needs a GPU", "tests/b.py": "needs the network"}
    skipped = {"tests/a.py::test_x": "", "tests/a.py::test_y": "", "tests/b.py::test_z": ""}
    assert unlisted_skips(skipped, listed) == ["tests/a.py::test_y"]
    listing.write_text("- `tests/a.py::test_x`\n")
    with pytest.raises(ValueError, match="is not a quarantine entry"):
        quarantined(listing)


def test_the_repositorys_quarantine_list_parses():
    assert isinstance(quarantined(), dict)
