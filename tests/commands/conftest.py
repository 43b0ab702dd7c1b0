"""Fixtures for the command tests: the CLI run in-process, with the model either the shared
real tiny.en (`model_loads`) or forbidden to load (`no_model`), to prove a check runs first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from hooked_audio.cli import main
from hooked_audio.models.whisper import HookedWhisper


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys) -> Callable[..., Run]:
    """`cli("transcribe", path, ...)` -> exit status, stdout, stderr."""

    def run(*argv: str) -> Run:
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as stop:
            code = stop.code
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def model_loads(monkeypatch, tiny_en) -> None:
    """`HookedWhisper.from_pretrained` returns the session's real tiny.en (no reload)."""
    monkeypatch.setattr(HookedWhisper, "from_pretrained", lambda *args, **kwargs: tiny_en)


@pytest.fixture
def no_model(monkeypatch) -> None:
    """Loading a model fails the test: the command must refuse its input before."""

    def refuse(*args, **kwargs):
        pytest.fail("the model loaded before the input was checked")

    monkeypatch.setattr(HookedWhisper, "from_pretrained", refuse)


def one_line_error(run: Run, command: str) -> str:
    """The message of a refused command: exit status 2, nothing on stdout, and on stderr one
    error line (after argparse's usage lines when argparse refused it), no traceback."""
    assert run.code == 2, (run.code, run.err)
    lines = run.err.strip().splitlines()
    assert not run.out and lines, (run.out, run.err)
    assert lines[-1].startswith(f"hooked-audio {command}: error:"), run.err
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), run.err
    return lines[-1]
