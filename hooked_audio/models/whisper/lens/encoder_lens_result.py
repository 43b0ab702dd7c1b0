"""`EncoderLensResult`: the output of `encoder_lens`, with its table and plot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from jaxtyping import Bool, Float
from torch import Tensor


@dataclass
class EncoderLensRow:
    """One encoder layer read through the decoder.

    `layer` -1 is the stream entering block 0 (conv stem plus positions), `l >= 0` the stream
    after block `l`; `hook_name` is the hook read. `text` / `tokens`: what greedy decoding
    produces from the layer (`reached_max_tokens` when it stopped at the length limit, not at
    `<|endoftext|>`). `accuracy`: teacher-forced on the model's own transcript, the fraction
    of its tokens (and the final `<|endoftext|>`) that are the greedy choice at their position;
    `mean_log_prob` the mean log-prob of those tokens, in nats.
    """

    layer: int
    label: str
    hook_name: str
    text: str
    tokens: list[int]
    reached_max_tokens: bool
    accuracy: float
    n_correct: int
    n_targets: int
    mean_log_prob: float


@dataclass
class EncoderLensResult:
    """Per encoder layer, what the decoder makes of its residual stream (`rows`, shallow to
    deep; the last row is the model itself).

    `text` / `target_tokens` are the model's own greedy transcript, the target of the
    teacher-forced scores (`target_tokens` ends with `<|endoftext|>`; `target_strings` decodes
    each). `correct` and `target_log_probs` give those scores per layer and target token.
    """

    rows: list[EncoderLensRow]
    text: str
    target_tokens: list[int]
    target_strings: list[str]
    correct: Bool[Tensor, "layer target"]
    target_log_probs: Float[Tensor, "layer target"]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[int]:
        return [row.layer for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per layer (the fields of `EncoderLensRow`)."""
        return [asdict(row) for row in self.rows]

    def to_dataframe(self):
        """One row per layer: layer, label, hook, accuracy, mean log-prob, transcript, ..."""
        import pandas as pd

        columns = [
            "layer",
            "label",
            "accuracy",
            "n_correct",
            "n_targets",
            "mean_log_prob",
            "text",
            "reached_max_tokens",
            "hook_name",
            "tokens",
        ]
        return pd.DataFrame(self.records(), columns=columns)

    def plot(self, axes=None, title: str | None = None):
        """Teacher-forced accuracy (left) and mean log-prob of the model's tokens (right)
        against the encoder layer read. Returns the two axes."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
        x = self.layers
        ticks = [row.label for row in self.rows]
        accuracy = [row.accuracy for row in self.rows]
        log_prob = [row.mean_log_prob for row in self.rows]
        n_targets = len(self.target_tokens)
        for ax, values, ylabel in (
            (axes[0], accuracy, f"accuracy (fraction of {n_targets} target tokens)"),
            (axes[1], log_prob, "mean log-prob of target tokens (nats)"),
        ):
            ax.plot(x, values, marker="o")
            ax.set_xticks(x, ticks)
            ax.set_xlabel("encoder layer read (embed = before block 0)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0].set_ylim(-0.05, 1.05)
        axes[0].set_title("greedy choice = model's token, teacher-forced")
        axes[1].set_title("log-prob of the model's tokens, teacher-forced")
        axes[0].figure.suptitle(title or "encoder lens: resid_post -> ln_post -> decoder")
        return axes
