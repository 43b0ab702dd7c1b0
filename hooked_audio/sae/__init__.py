"""Sparse autoencoders on audio activations, with SAELens: activation batches from a store or
streamed from clips (`ActivationBatches`), training SAELens's own SAEs (`train_sae`), loading
SAEs saved in SAELens's format (`load_sae`), splicing them into a hooked model with hook points
on their features (`add_sae`, also `model.add_sae`), evaluating them (`reconstruction_stats`,
`spliced_loss`), and feature dashboards (`hooked_audio.sae.dashboard`)."""

from hooked_audio.sae.activations import ActivationBatches
from hooked_audio.sae.evaluation import (
    ReconstructionStats,
    SplicedLoss,
    reconstruction_stats,
    spliced_loss,
)
from hooked_audio.sae.loading import load_sae
from hooked_audio.sae.training import train_sae, training_config
from hooked_audio.sae_splice import SAE_HOOKS, SAESplice, add_sae, remove_saes, saes, spliced_saes

__all__ = [
    "SAE_HOOKS",
    "ActivationBatches",
    "ReconstructionStats",
    "SAESplice",
    "SplicedLoss",
    "add_sae",
    "load_sae",
    "reconstruction_stats",
    "remove_saes",
    "saes",
    "spliced_loss",
    "spliced_saes",
    "train_sae",
    "training_config",
]
