"""`hooked-audio sae train` then `sae dashboard` on a folder of clips, end to end: the store, the
SAE in SAELens's format and the metrics it prints agree with each other and with the library."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sae_lens", reason="SAE tests need SAELens: pip install -e '.[sae]'")

import soundfile

from hooked_audio.activation_store import ActivationStore, bundled_clips
from hooked_audio.sae import load_sae
from tests.commands.conftest import cli, model_loads  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sae
HOOK = "encoder.blocks.1.hook_resid_post"


def test_train_then_dashboard_from_a_folder(cli, model_loads, tmp_path, tiny_en):  # noqa: F811
    clips = tmp_path / "clips"
    clips.mkdir()
    chosen = bundled_clips()[:4]
    for clip in chosen:
        soundfile.write(clips / f"{clip.id}.flac", clip.audio, 16000)
        if clip.words:
            rows = "".join(f"{w},{s},{e}\n" for w, s, e in clip.words)
            (clips / f"{clip.id}.words.csv").write_text("word,start,end\n" + rows)
    run_dir = tmp_path / "run"
    run = cli(
        "sae",
        "train",
        "--hook",
        HOOK,
        "--clips",
        clips,
        "--out",
        run_dir,
        "--d-sae",
        "128",
        "--k",
        "8",
        "--samples",
        "4096",
    )
    assert run.code == 0, run.err
    metrics = json.loads((run_dir / "metrics.json").read_text())
    store = ActivationStore(run_dir / "store")
    assert sorted(store.clips) == sorted(c.id for c in chosen)
    assert metrics["store_rows"] == len(store.frame(HOOK))
    assert metrics["reconstruction"]["l0"] <= 8
    assert f"explained variance {metrics['reconstruction']['explained_variance']:.3f}" in run.out
    loss = metrics["spliced_loss"]
    assert loss["clean"] < loss["spliced"]
    assert sorted(metrics["loss_clips"]) == sorted(c.id for c in chosen)
    sae = load_sae(run_dir / "sae", tiny_en)
    assert sae.cfg.d_sae == 128 and sae.cfg.metadata.hook_name == HOOK

    run = cli("sae", "dashboard", run_dir, "--clips", clips, "--features", "3", "--examples", "2")
    assert run.code == 0, run.err
    numbers = json.loads((run_dir / "features.json").read_text())
    assert len(numbers["features"]) == 3
    words = {w for c in chosen for w, _, _ in c.words}
    shown = [e["word"] for f in numbers["features"] for e in f["examples"] if e["word"]]
    assert set(shown) <= words
    assert (run_dir / "dashboard.html").stat().st_size > 10_000
