"""The suite's rules on slow tests and skips (a pytest plugin, loaded by tests/conftest.py).

- A test whose name ends in `_slow` is marked `slow`: the fast lane deselects them
  (`pytest -m "not slow and not sae"`).
- Under `CI=true` a skipped test, or a test module skipped as it is collected, fails the run
  unless `tests/QUARANTINES.md` lists its node id with a reason: CI cannot pass by not running a
  test. The skips are listed at the end of the run with their reasons, quarantined or not.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

QUARANTINES = Path(__file__).resolve().parents[1] / "QUARANTINES.md"
#: a quarantine entry: "- `NODE_ID`: reason" on one line
ENTRY = re.compile(r"^- `(?P<node>[^`]+)`: (?P<reason>\S.*)$")
SLOW_SUFFIX = "_slow"

_skipped: dict[str, str] = {}  # node id -> reason


def quarantined(path: Path = QUARANTINES) -> dict[str, str]:
    """The node ids `tests/QUARANTINES.md` lists, with their reasons. An entry without a reason
    is an error: a quarantine says why."""
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("- `"):
            continue
        match = ENTRY.match(line)
        if match is None:
            raise ValueError(
                f"{path}:{number}: {line!r} is not a quarantine entry; write "
                "- `tests/path.py::test_name`: the reason it may skip"
            )
        entries[match["node"]] = match["reason"]
    return entries


def unlisted_skips(skipped: dict[str, str], listed: dict[str, str]) -> list[str]:
    """The skipped node ids no entry covers (an entry covers its node id and, for a module's
    path, every test in it)."""
    return [node for node in skipped if node not in listed and node.split("::")[0] not in listed]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a test over about 20 s on 2 cores (its name ends in _slow)"
    )
    _skipped.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = getattr(item, "originalname", None) or item.name
        if name.endswith(SLOW_SUFFIX):
            item.add_marker(pytest.mark.slow)


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_collectreport(report) -> None:
    if report.skipped:
        _skipped[report.nodeid] = _reason(report)


def pytest_runtest_logreport(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped[report.nodeid] = _reason(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not in_ci() or not _skipped:
        return
    if unlisted_skips(_skipped, quarantined()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _skipped:
        return
    listed = quarantined()
    unlisted = set(unlisted_skips(_skipped, listed))
    terminalreporter.section("skips")
    for node, reason in _skipped.items():
        status = "NOT QUARANTINED" if node in unlisted else "quarantined"
        terminalreporter.write_line(f"{node}: {reason} [{status}]")
    if unlisted and in_ci():
        terminalreporter.write_line(
            f"CI=true: {len(unlisted)} skipped test(s) not listed in tests/QUARANTINES.md; the "
            "run fails. Make them run here (install what they need), or list each with its "
            "reason.",
            red=True,
        )
