"""Training an SAE with SAELens on audio activations.

`train_sae` builds one of SAELens's own training SAEs (its architectures, losses and configs:
"standard" (L1), "topk", "batchtopk", "jumprelu", "gated", ...) and fits it with SAELens's
`SAETrainer` on `ActivationBatches` (a store or clips streamed through the model). The result
is SAELens's inference SAE, with the hook and model it was trained on in its metadata, saved
in SAELens's format (`cfg.json` + `sae_weights.safetensors`) when `out_dir` is given, so
`SAE.load_from_disk` and `hooked_audio.sae.load_sae` read it back.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from hooked_audio.checks import check_count
from hooked_audio.sae.activations import ActivationBatches
from hooked_audio.sae.requirement import sae_lens


def training_config(
    architecture: str, d_in: int, d_sae: int, device: str = "cpu", **options: Any
) -> Any:
    """SAELens's training config of `architecture` (e.g. `StandardTrainingSAEConfig` with
    `l1_coefficient=`, `TopKTrainingSAEConfig` with `k=`); `options` are its fields."""
    sae_lens()
    from sae_lens.registry import SAE_TRAINING_CLASS_REGISTRY as registry

    if architecture not in registry:
        raise ValueError(
            f"SAELens has no training architecture {architecture!r}; it has {sorted(registry)}."
        )
    config_class = registry[architecture][1]
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"{config_class.__name__} has no option {unknown}; its options: "
            f"{sorted(known - {'d_in', 'd_sae', 'device', 'metadata'})}."
        )
    return config_class(d_in=d_in, d_sae=d_sae, device=device, **options)


def training_class(architecture: str) -> type:
    from sae_lens.registry import SAE_TRAINING_CLASS_REGISTRY

    return SAE_TRAINING_CLASS_REGISTRY[architecture][0]


def train_sae(
    batches: ActivationBatches,
    hook_name: str,
    d_sae: int,
    training_samples: int,
    architecture: str = "standard",
    lr: float = 3e-4,
    model_name: str = "",
    out_dir: str | Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    **options: Any,
) -> Any:
    """Train an SAE of `d_sae` features on `training_samples` rows of `batches` (rows of
    `hook_name`) and return SAELens's inference SAE (module docstring). `options` go to the
    architecture's SAELens config (`l1_coefficient=5.0`, `k=32`, ...)."""
    import torch

    lens = sae_lens()
    from sae_lens.config import LoggingConfig, SAETrainerConfig

    check_count(d_sae, "d_sae")
    check_count(training_samples, "training_samples")
    if training_samples < batches.batch_size:
        raise ValueError(
            f"training_samples={training_samples} is less than one batch ({batches.batch_size})."
        )
    cfg = training_config(architecture, batches.d_in, d_sae, device, **options)
    cfg.metadata.hook_name = hook_name
    cfg.metadata.model_name = model_name
    torch.manual_seed(seed)
    training_sae = training_class(architecture)(cfg)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=training_samples,
        train_batch_size_samples=batches.batch_size,
        lr=lr,
        lr_end=lr,  # SAELens's runner fills this in; a constant rate ends where it starts
        device=device,
        # SAELens's defaults assume millions of samples; a short run estimates the
        # normalisation (when asked) from at most a tenth of its batches.
        n_batches_for_norm_estimate=max(1, training_samples // batches.batch_size // 10),
        logger=LoggingConfig(log_to_wandb=False),
    )
    trained = lens.SAETrainer(trainer_cfg, training_sae, batches).fit()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir) if out_dir is not None else Path(tmp)
        trained.save_inference_model(folder)
        return lens.SAE.load_from_disk(folder, device=device)
