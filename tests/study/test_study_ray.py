"""A study on a local Ray cluster (2 CPUs): the same rows as the local executor, resuming a
folder the local executor started, and its arguments checked before anything starts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hooked_audio.cli import main
from hooked_audio.pairs import bundled_pairs
from hooked_audio.study import StudySpec, run_study

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")

from hooked_audio.study.ray_executor import RayExecutor  # noqa: E402

SPEC = StudySpec(directions=("denoise",), layers=(0, 1), granularity="windows:0.4", layer_chunk=1)


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["unit", "layer", "cell"]).reset_index(drop=True)


def test_a_study_on_a_local_ray_cluster_equals_the_local_run_slow(tiny_en, tmp_path):
    pairs = [p for p in bundled_pairs() if p.id in ("car-bike", "paris-berlin", "window-pitch")]
    quiet = dict(progress=False, out=lambda line: None)
    local = run_study(tiny_en, pairs, SPEC, out_dir=tmp_path / "local", **quiet)
    # The Ray run resumes a folder where the local executor finished one pair's units.
    run_study(tiny_en, pairs[:1], SPEC, out_dir=tmp_path / "ray", **quiet)
    lines = []
    on_ray = run_study(
        tiny_en,
        pairs,
        SPEC,
        out_dir=tmp_path / "ray",
        progress=False,
        out=lines.append,
        executor=RayExecutor(workers=2),
    )
    assert not ray.is_initialized()  # the cluster it started is shut down
    assert "2 of 4 units already done" in lines[0]
    assert on_ray.skipped == local.skipped and on_ray.skipped  # window-pitch, on the actors
    a, b = _sorted(local.rows), _sorted(on_ray.rows)
    assert len(a) == len(b) > 0 and set(a["unit"]) == set(b["unit"])
    assert {u.rsplit("|", 1)[-1] for u in a["unit"]} == {"layers 0-0", "layers 1-1"}
    pd.testing.assert_frame_equal(
        a.drop(columns=["value", "normalised"]), b.drop(columns=["value", "normalised"])
    )
    # one thread per actor against this process's threads: float32 rounding apart
    pd.testing.assert_series_equal(a["value"], b["value"], atol=1e-4, rtol=1e-4)
    on_disk = pd.read_json(tmp_path / "ray" / "results.jsonl", lines=True)
    assert len(on_disk) == len(b)


def test_ray_executor_arguments_are_checked_before_a_cluster_starts():
    with pytest.raises(ValueError, match="address must be 'local' or a Ray cluster address"):
        RayExecutor(address="")
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        RayExecutor(workers=0)
    with pytest.raises(ValueError, match="num_cpus must be an integer >= 1"):
        RayExecutor(num_cpus=1.5)
    assert not ray.is_initialized()


def test_the_study_command_on_ray_slow(tmp_path, capsys):
    args = ["study", "bundled", "--layers", "3", "--directions", "denoise", "--json"]
    assert main([*args, "--out", str(tmp_path / "local"), "--no-report", "--no-figures"]) == 0
    local = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ray_args = ["--out", str(tmp_path / "ray"), "--ray", "--workers", "2"]
    assert main([*args, *ray_args]) == 0
    on_ray = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert on_ray["pairs"] == local["pairs"] == ["car-bike", "football-tennis", "paris-berlin"]
    for a, b in zip(local["summary"], on_ray["summary"]):
        assert a["cells"] == b["cells"] and a["mean"] == pytest.approx(b["mean"], abs=1e-4)
    assert (tmp_path / "ray" / "report.html").exists()
