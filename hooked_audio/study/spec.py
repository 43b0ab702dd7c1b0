"""What a study runs: directions, activations, layers, cell granularity."""

from __future__ import annotations

from dataclasses import dataclass, field

from hooked_audio.checks import check_count
from hooked_audio.patching.checks import check_direction
from hooked_audio.patching.directions import DIRECTIONS, Direction

#: what a study patches: a whole encoder layer's `blocks.{l}.hook_<act>` (resid_pre, attn_out,
#: mlp_out), or one head at a time (`hooked_audio.study.head_units`): each encoder attention
#: head's output (encoder_heads), each decoder cross-attention head's keys and values of the
#: cell's frames (cross_heads)
STUDY_ACTS = ("resid_pre", "attn_out", "mlp_out", "encoder_heads", "cross_heads")

#: how a layer act's values are obtained: exact patching (one run per layer and cell);
#: integrated-gradients estimates (`steps` path points per layer, every cell at once); or the
#: estimates with each unit's `verify_top_k` largest cells patched exactly
#: (`hooked_audio.patching.verify_top_cells`; for head acts `head_integrated_gradients` and
#: `verify_top_head_cells`); or adaptive exact maps (`hooked_audio.patching.adaptive_map`:
#: windows of `adaptive_window` cells patched exactly and split where their effect reaches
#: `adaptive_threshold` of the total; with `adaptive_top_k`, only windows that can still hold
#: one of the unit's k largest cells are split; whole-layer acts only).
STUDY_MODES = ("exact", "attribution", "verified", "adaptive")

#: the model's precision in a study: half precision is faster on a GPU and costs accuracy
#: (benchmarks/SCALE_RESULTS.md measures how much against float32); the metric is taken in
#: float32 whatever the model's precision
STUDY_DTYPES = ("float32", "float16", "bfloat16")


def parse_granularity(text: str) -> tuple[str, float | None]:
    """`"words"`, `"frames"` or `"windows:<seconds>"` -> `(kind, window seconds or None)`."""
    if text in ("words", "frames"):
        return text, None
    kind, _, value = text.partition(":")
    if kind == "windows":
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if seconds > 0:
            return "windows", seconds
    raise ValueError(
        f"granularity must be 'words', 'frames' or 'windows:<seconds>' (e.g. 'windows:0.1'), "
        f"got {text!r}."
    )


@dataclass(frozen=True)
class StudySpec:
    """A study's design. `layers=None`: every layer (of the encoder; of the decoder for
    `cross_heads`). `min_gap`: pairs whose clean and corrupt metric differ by less are
    reported as unusable, not averaged. `require_heard`: a pair is left out when the model's
    greedy transcript of the clean clip lacks the changed word (its recovery would measure a
    word the model does not hear). `layer_chunk`: how many layers one unit of work
    covers (None: all of an act's layers), the grain at which a study is resumed and shared
    out between workers; it does not change the numbers."""

    directions: tuple[Direction, ...] = DIRECTIONS
    acts: tuple[str, ...] = ("resid_pre",)
    layers: tuple[int, ...] | None = None
    granularity: str = "words"
    min_gap: float = 1.0
    batch_size: int | None = None
    mode: str = "exact"
    steps: int = 8
    verify_top_k: int = 10
    adaptive_window: int = 16
    adaptive_threshold: float = 0.05
    adaptive_top_k: int | None = None
    layer_chunk: int | None = None
    dtype: str = "float32"
    require_heard: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.directions:
            raise ValueError("A study needs at least one direction ('denoise', 'noise').")
        for direction in self.directions:
            check_direction(direction)
        bad = [act for act in self.acts if act not in STUDY_ACTS]
        if not self.acts or bad:
            raise ValueError(f"acts must be a non-empty subset of {STUDY_ACTS}; got {self.acts}.")
        parse_granularity(self.granularity)
        if self.mode not in STUDY_MODES:
            raise ValueError(f"mode must be one of {STUDY_MODES}, got {self.mode!r}.")
        heads = [act for act in self.acts if act in ("encoder_heads", "cross_heads")]
        if self.mode == "adaptive" and heads:
            raise ValueError(
                f"mode 'adaptive' refines whole-layer acts only; study {heads} with mode "
                "'exact', 'attribution' or 'verified'."
            )
        check_count(self.steps, "steps")
        check_count(self.adaptive_window, "adaptive_window")
        if not self.adaptive_threshold >= 0:
            raise ValueError(
                f"adaptive_threshold must be >= 0 (a share of the total effect), got "
                f"{self.adaptive_threshold}."
            )
        check_count(self.verify_top_k, "verify_top_k")
        if self.adaptive_top_k is not None:
            check_count(self.adaptive_top_k, "adaptive_top_k")
            if self.mode != "adaptive":
                raise ValueError(
                    f"adaptive_top_k is the adaptive map's search for its top cells; it needs "
                    f"mode 'adaptive', not {self.mode!r}."
                )
        if not isinstance(self.require_heard, bool):
            raise TypeError(f"require_heard must be True or False, got {self.require_heard!r}.")
        if self.dtype not in STUDY_DTYPES:
            raise ValueError(f"dtype must be one of {STUDY_DTYPES}, got {self.dtype!r}.")
        if self.layer_chunk is not None:
            check_count(self.layer_chunk, "layer_chunk")
            if self.mode == "adaptive" and self.adaptive_top_k is not None:
                raise ValueError(
                    "adaptive_top_k searches for a unit's largest cells over all its layers, "
                    "so chunking the layers would change which windows are split; leave "
                    "layer_chunk=None with it."
                )
            if self.mode == "verified":
                raise ValueError(
                    "mode 'verified' patches a unit's verify_top_k largest cells over all its "
                    "layers, so chunking the layers would change which cells are verified; "
                    "leave layer_chunk=None in this mode."
                )
        if not self.min_gap >= 0:
            raise ValueError(f"min_gap must be >= 0, got {self.min_gap}.")
