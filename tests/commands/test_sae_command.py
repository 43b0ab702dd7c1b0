"""`hooked-audio sae`: arguments refused before the model loads, in either environment; without
the sae extra, one line that names it. The full train-and-dashboard run is in
tests/sae/test_sae_command_run.py (it needs SAELens)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.commands.conftest import one_line_error

HOOK = "encoder.blocks.2.hook_resid_post"


def test_decoder_hooks_and_missing_clips_are_refused_first(cli, no_model, tmp_path):
    run = cli(
        "sae",
        "train",
        "--hook",
        "decoder.blocks.0.hook_resid_post",
        "--clips",
        "bundled",
        "--out",
        tmp_path,
    )
    assert "training reads encoder hooks" in one_line_error(run, "sae")
    run = cli("sae", "train", "--hook", HOOK, "--clips", tmp_path / "nowhere", "--out", tmp_path)
    assert "neither 'bundled' nor a folder" in one_line_error(run, "sae")
    run = cli("sae", "train", "--hook", HOOK, "--clips", "bundled", "--out", tmp_path, "--k", "0")
    assert run.code == 2 and "--k: expected an integer >= 1" in run.err
    run = cli("sae", "train", "--hook", HOOK, "--clips", "bundled", "--out", tmp_path, "--l1", "2")
    assert "--l1 is for L1-penalised SAEs, not topk" in one_line_error(run, "sae")


def test_dashboard_needs_a_training_folder(cli, no_model, tmp_path):
    run = cli("sae", "dashboard", tmp_path, "--clips", "bundled")
    assert "has no store/ folder" in one_line_error(run, "sae")


@pytest.mark.skipif(
    importlib.util.find_spec("sae_lens") is not None, reason="SAELens is installed here"
)
def test_without_the_sae_extra_training_names_it(cli, no_model, tmp_path):
    run = cli("sae", "train", "--hook", HOOK, "--clips", "bundled", "--out", tmp_path)
    assert 'pip install -e ".[sae]"' in one_line_error(run, "sae")
