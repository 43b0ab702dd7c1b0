"""Activation patching on audio frames: engines that run on any stream view (see
`hooked_audio.streams`), directions, cells in time, results."""

from hooked_audio.patching import time_cells
from hooked_audio.patching.adaptive import adaptive_map, adaptive_resid_pre_map
from hooked_audio.patching.attribution import resid_pre_attribution, resid_pre_attribution_graddrop
from hooked_audio.patching.attribution_qk import resid_pre_attribution_qk
from hooked_audio.patching.directions import DIRECTIONS, Direction
from hooked_audio.patching.feature_sweep import feature_sweep, top_changed_features
from hooked_audio.patching.head_integrated_gradients import head_integrated_gradients
from hooked_audio.patching.head_sweep import head_sweep
from hooked_audio.patching.integrated_gradients import (
    integrated_gradients,
    resid_pre_integrated_gradients,
)
from hooked_audio.patching.layer_sweep import layer_sweep, resid_pre_sweep
from hooked_audio.patching.path_patching import Sender, direct_path, direct_path_head_sweep
from hooked_audio.patching.position_sweep import position_sweep
from hooked_audio.patching.sweep_result import SweepResult
from hooked_audio.patching.verified import verify_top_cells, verify_top_head_cells

__all__ = [
    "adaptive_map",
    "adaptive_resid_pre_map",
    "DIRECTIONS",
    "Direction",
    "Sender",
    "SweepResult",
    "direct_path",
    "direct_path_head_sweep",
    "feature_sweep",
    "head_integrated_gradients",
    "head_sweep",
    "integrated_gradients",
    "layer_sweep",
    "position_sweep",
    "resid_pre_attribution",
    "resid_pre_attribution_graddrop",
    "resid_pre_attribution_qk",
    "resid_pre_integrated_gradients",
    "resid_pre_sweep",
    "time_cells",
    "top_changed_features",
    "verify_top_cells",
    "verify_top_head_cells",
]
