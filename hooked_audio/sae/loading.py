"""Loading SAEs saved in SAELens's format: a folder with `cfg.json` (the architecture, `d_in`,
`d_sae`, and `metadata.hook_name` / `metadata.model_name`) and `sae_weights.safetensors`, as
SAELens's `save_model` / `save_inference_model` and `hooked_audio.sae.train_sae` write it, so
SAEs trained elsewhere on Whisper's activations can be spliced here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hooked_audio.sae.requirement import sae_lens
from hooked_audio.weight_checks import check_finite_weights

CONFIG, WEIGHTS = "cfg.json", "sae_weights.safetensors"


def load_sae(
    folder: str | Path,
    model: Any = None,
    hook_name: str | None = None,
    device: str = "cpu",
) -> Any:
    """SAELens's `SAE.load_from_disk(folder)`, after checking the folder holds an SAE. With
    `model`, the hook it names (or `hook_name`, which then replaces it in the metadata) must be
    one of the model's, so `model.add_sae(sae)` splices it where it belongs."""
    folder = Path(folder)
    missing = [name for name in (CONFIG, WEIGHTS) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{str(folder)!r} is not an SAE saved in SAELens's format: it lacks {missing}."
        )
    try:
        config = json.loads((folder / CONFIG).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{folder / CONFIG} is not JSON: {error}.") from error
    if not isinstance(config, dict):
        raise ValueError(f"{folder / CONFIG} does not hold an SAE config (a JSON object).")
    try:
        sae = sae_lens().SAE.load_from_disk(folder, device=device)
    except ImportError:
        raise
    except Exception as error:  # SAELens, torch and safetensors raise many types for this
        said = " ".join(str(error).split())[:300].rstrip(".")
        raise ValueError(
            f"SAELens could not load the SAE in {str(folder)!r} (architecture "
            f"{config.get('architecture', 'not recorded')!r}): {type(error).__name__}: "
            f"{said}. The weights may be truncated or not match {CONFIG} (d_in, d_sae), or "
            "the architecture may be one this SAELens does not know; save the SAE again with "
            "SAELens."
        ) from None
    check_finite_weights(sae.state_dict(), f"The SAE in {str(folder)!r}")
    if hook_name is not None:
        sae.cfg.metadata.hook_name = hook_name
    name = sae.cfg.metadata.hook_name
    if model is not None:
        if not name:
            raise ValueError(
                f"{folder / CONFIG} names no hook (metadata.hook_name); pass hook_name=."
            )
        if name not in model.hook_dict:
            raise ValueError(
                f"The SAE in {str(folder)!r} was trained on {name!r} "
                f"({config.get('metadata', {}).get('model_name') or 'model not recorded'}), "
                "which this model has no hook point of; pass hook_name= to splice it "
                "elsewhere."
            )
    return sae
