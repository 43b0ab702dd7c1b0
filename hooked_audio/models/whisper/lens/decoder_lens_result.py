"""`DecoderLensResult`: the output of `decoder_lens`, with its tables and heatmap."""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float, Int
from torch import Tensor


@dataclass
class DecoderLensResult:
    """The vocabulary projection of each decoder layer at each position read.

    `layers`: -1 (the embeddings, entering block 0) then `l` (after block `l`), read at
    `hook_names`; the last is the model's logits. `tokens` is the whole input; `positions` the
    positions read, each predicting the next token, `target_ids` (`target_strings` decoded).
    Per layer and position: `top_ids` / `top_strings` the argmax of the whole vocabulary,
    `target_probs` the target's probability, `target_ranks` its rank (0 = the argmax).
    """

    layers: list[int]
    hook_names: list[str]
    tokens: Int[Tensor, " pos"]
    positions: list[int]
    target_ids: Int[Tensor, " target"]
    target_strings: list[str]
    top_ids: Int[Tensor, "layer target"]
    top_strings: list[list[str]]
    target_probs: Float[Tensor, "layer target"]
    target_ranks: Int[Tensor, "layer target"]

    @property
    def labels(self) -> list[str]:
        return ["embed" if layer < 0 else str(layer) for layer in self.layers]

    def accuracy(self) -> Float[Tensor, " layer"]:
        """Per layer, the fraction of positions whose top-1 token is the target."""
        return (self.top_ids == self.target_ids).float().mean(dim=-1)

    def summary_records(self) -> list[dict]:
        """One JSON-ready dict per layer: top-1 accuracy, mean target probability, median
        target rank."""
        accuracy = self.accuracy()
        return [
            {
                "layer": layer,
                "label": label,
                "accuracy": float(accuracy[i]),
                "mean_target_prob": float(self.target_probs[i].mean()),
                "median_target_rank": float(self.target_ranks[i].float().median()),
                "top_tokens": "".join(self.top_strings[i]),
            }
            for i, (layer, label) in enumerate(zip(self.layers, self.labels))
        ]

    def summary(self):
        """One row per layer (`summary_records`)."""
        import pandas as pd

        return pd.DataFrame(self.summary_records())

    def to_dataframe(self):
        """One row per (layer, position): the target token, the top-1 token, the target's
        probability and rank."""
        import pandas as pd

        rows = []
        for i, (layer, label) in enumerate(zip(self.layers, self.labels)):
            for j, position in enumerate(self.positions):
                rows.append(
                    {
                        "layer": layer,
                        "label": label,
                        "position": position,
                        "target": self.target_strings[j],
                        "target_id": int(self.target_ids[j]),
                        "top1": self.top_strings[i][j],
                        "top1_id": int(self.top_ids[i, j]),
                        "target_prob": float(self.target_probs[i, j]),
                        "target_rank": int(self.target_ranks[i, j]),
                    }
                )
        return pd.DataFrame(rows)

    def plot(self, annotate: bool | None = None, ax=None, title: str | None = None):
        """Heatmap layers x positions of the target token's probability; the x tick labels are
        the target tokens, and cells carry the layer's top-1 token when there are few."""
        import matplotlib.pyplot as plt

        n_layers, n_pos = self.target_probs.shape
        if ax is None:
            _, ax = plt.subplots(
                figsize=(max(6, min(18, 2 + 0.45 * n_pos)), 1.8 + 0.45 * n_layers),
                constrained_layout=True,
            )
        image = ax.imshow(
            self.target_probs.numpy(),
            aspect="auto",
            cmap="viridis",
            vmin=0,
            vmax=1,
            interpolation="nearest",
            origin="lower",
        )
        ax.set_yticks(range(n_layers), self.labels)
        ax.set_ylabel("decoder layer")
        ax.set_xticks(range(n_pos), [repr(s)[1:-1] for s in self.target_strings], rotation=90)
        ax.set_xlabel("target token (the next token at each position)")
        if annotate is None:
            annotate = n_layers * n_pos <= 400
        if annotate:
            for i in range(n_layers):
                for j in range(n_pos):
                    ax.text(
                        j,
                        i,
                        self.top_strings[i][j].strip()[:6],
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if self.target_probs[i, j] < 0.5 else "black",
                    )
        ax.set_title(
            title or "decoder logit lens: resid_post -> ln_final -> unembed (embed: before block 0)"
        )
        ax.figure.colorbar(image, ax=ax, label="probability of the target token")
        return ax
