"""A damaged SAE folder is refused with the folder named and the fix, never loaded into NaN
logits or a stack trace: NaN weights, weights that do not match cfg.json, a truncated weights
file, an unknown architecture, a config that is not an object."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("sae_lens", reason="SAE tests need SAELens: pip install -e '.[sae]'")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from hooked_audio.sae import load_sae  # noqa: E402

pytestmark = pytest.mark.sae
WEIGHTS = "sae_weights.safetensors"


@pytest.fixture
def sae_copy(trained_sae_folder, tmp_path):
    return shutil.copytree(trained_sae_folder, tmp_path / "sae")


def _edit_weights(folder, edit):
    weights = load_file(folder / WEIGHTS)
    edit(weights)
    save_file(weights, folder / WEIGHTS)


def test_the_saved_sae_loads(sae_copy):
    assert load_sae(sae_copy).cfg.d_sae == 512


def test_nan_weights_are_refused(sae_copy):
    _edit_weights(sae_copy, lambda w: w["W_dec"].__setitem__((0, 0), float("nan")))
    with pytest.raises(ValueError, match=r"The SAE in .* hold NaN or infinite values \(W_dec\)"):
        load_sae(sae_copy)


def test_weights_that_do_not_match_the_config_are_refused(sae_copy):
    _edit_weights(sae_copy, lambda w: w.__setitem__("W_dec", torch.zeros(256, w["W_dec"].shape[1])))
    with pytest.raises(
        ValueError,
        match="SAELens could not load the SAE.*size mismatch for W_dec.*not match cfg.json",
    ):
        load_sae(sae_copy)


def test_a_truncated_weights_file_is_refused(sae_copy):
    data = (sae_copy / WEIGHTS).read_bytes()
    (sae_copy / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="SAELens could not load the SAE.*truncated"):
        load_sae(sae_copy)


def test_an_unknown_architecture_is_refused(sae_copy):
    config = json.loads((sae_copy / "cfg.json").read_text())
    config["architecture"] = "hypersparse"
    (sae_copy / "cfg.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="architecture 'hypersparse'"):
        load_sae(sae_copy)
    (sae_copy / "cfg.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold an SAE config"):
        load_sae(sae_copy)
