"""`LogitLensResult`: the output of `logit_lens`, with its dataframe and heatmap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor


@dataclass
class LogitLensResult:
    """The vocabulary projection of the residual stream, `[layer, position, ...]`.

    `layers` are lens layers (`l` = entering block `l`, `n_layers` = the final stream, equal to
    the model's logits) with TransformerLens's `labels`; `positions` are absolute indices in the
    row read; `is_audio` marks audio placeholders and `seconds` gives each one's `(start, end)`
    in its clip (None for text). `top_ids` / `top_log_probs` are the top-k per cell;
    `target_log_probs` / `target_ranks` (0 = argmax of the whole vocabulary) the given
    `target_ids`; `entropy` is in nats; `log_probs` is the whole vocabulary, only when asked.
    `tokenizer` (if known) decodes tokens in `to_dataframe` and `plot`.
    """

    layers: list[int]
    labels: list[str]
    positions: list[int]
    is_audio: Bool[Tensor, " pos"]
    seconds: list[tuple[float, float] | None]
    top_ids: Int[Tensor, "layer pos k"]
    top_log_probs: Float[Tensor, "layer pos k"]
    entropy: Float[Tensor, "layer pos"]
    tokens: Int[Tensor, " pos"] | None = None
    target_ids: list[int] | None = None
    target_log_probs: Float[Tensor, "layer pos target"] | None = None
    target_ranks: Int[Tensor, "layer pos target"] | None = None
    log_probs: Float[Tensor, "layer pos d_vocab"] | None = None
    metadata: dict = field(default_factory=dict)
    tokenizer: Any = field(default=None, repr=False)

    def _target_column(self, target: int | None) -> int:
        if self.target_ids is None:
            raise ValueError("This lens was run without targets=.")
        if target is None:
            return 0
        if target not in self.target_ids:
            raise ValueError(f"Token {target} is not among this lens's targets {self.target_ids}.")
        return self.target_ids.index(target)

    def target_probs(self, target: int | None = None) -> Float[Tensor, "layer pos"]:
        """Probability of a target token (default: the first) at every layer and position."""
        return self.target_log_probs[..., self._target_column(target)].exp()

    def target_rank(self, target: int | None = None) -> Int[Tensor, "layer pos"]:
        return self.target_ranks[..., self._target_column(target)]

    def to_dataframe(self, tokenizer: Any = None):
        """One row per (layer, position): times, the top-k tokens with their log-probs, the
        entropy, and `prob_{id}` / `rank_{id}` for every target."""
        import pandas as pd

        decode = _decoder(tokenizer or self.tokenizer)
        rows = []
        for li, layer in enumerate(self.layers):
            for pi, pos in enumerate(self.positions):
                row: dict[str, Any] = {
                    "layer": layer,
                    "label": self.labels[li],
                    "position": pos,
                    "is_audio": bool(self.is_audio[pi]),
                }
                span = self.seconds[pi]
                row["start_s"], row["end_s"] = span if span is not None else (None, None)
                if self.tokens is not None:
                    row["input_token"] = decode(int(self.tokens[pi]))
                for k in range(self.top_ids.shape[-1]):
                    row[f"top{k + 1}"] = decode(int(self.top_ids[li, pi, k]))
                    row[f"top{k + 1}_log_prob"] = float(self.top_log_probs[li, pi, k])
                row["entropy"] = float(self.entropy[li, pi])
                for ti, tid in enumerate(self.target_ids or []):
                    row[f"prob_{tid}"] = float(self.target_log_probs[li, pi, ti].exp())
                    row[f"rank_{tid}"] = int(self.target_ranks[li, pi, ti])
                rows.append(row)
        return pd.DataFrame(rows)

    def position_labels(self, tokenizer: Any = None) -> list[str]:
        """Audio positions as their start time (`"0.12s"`), text positions as their token."""
        decode = _decoder(tokenizer or self.tokenizer)
        labels = []
        for pi, pos in enumerate(self.positions):
            span = self.seconds[pi]
            if span is not None:
                labels.append(f"{span[0]:.2f}s")
            elif self.tokens is not None:
                labels.append(str(decode(int(self.tokens[pi]))))
            else:
                labels.append(str(pos))
        return labels

    def plot(
        self,
        value: str | None = None,
        target: int | None = None,
        tokenizer: Any = None,
        annotate: bool | None = None,
        ax=None,
        title: str | None = None,
    ):
        """Heatmap layer x position of `value`: `"target_prob"` (default with targets),
        `"top_prob"` (default without), `"target_rank"` (log10(1 + rank)) or `"entropy"`.
        Audio positions are labelled with their start time and marked by an orange strip;
        cells carry the top-1 token when there are few of them (`annotate`)."""
        import matplotlib.pyplot as plt

        value = value or ("target_prob" if self.target_ids is not None else "top_prob")
        if value == "target_prob":
            token = self.target_ids[self._target_column(target)]
            data, label = self.target_probs(target), f"p(token {token})"
        elif value == "target_rank":
            data = torch.log10(1.0 + self.target_rank(target).float())
            label = f"log10(1 + rank of token {self.target_ids[self._target_column(target)]})"
        elif value == "top_prob":
            data, label = self.top_log_probs[..., 0].exp(), "top-1 probability"
        elif value == "entropy":
            data, label = self.entropy, "entropy (nats)"
        else:
            raise ValueError(
                f"value must be 'target_prob', 'target_rank', 'top_prob' or "
                f"'entropy'; got {value!r}."
            )
        n_layers, n_pos = data.shape
        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, min(16, 2 + 0.25 * n_pos)), 1.5 + 0.4 * n_layers))
        vmax = 1.0 if value.endswith("prob") else None
        image = ax.imshow(
            data.numpy(),
            aspect="auto",
            cmap="viridis",
            vmin=0,
            vmax=vmax,
            interpolation="nearest",
            origin="lower",
        )
        ax.set_yticks(range(n_layers), self.labels)
        ax.set_ylabel("lens layer")
        labels = self.position_labels(tokenizer)
        step = max(1, n_pos // 40)
        ticks = list(range(0, n_pos, step))
        ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90, fontsize=7)
        for tick, i in zip(ax.get_xticklabels(), ticks):
            if self.is_audio[i]:
                tick.set_color("tab:orange")
        for start, stop in _runs(self.is_audio.tolist()):
            ax.axvspan(
                start - 0.5, stop - 0.5, ymin=0, ymax=0.03, color="tab:orange", clip_on=False
            )
        ax.set_xlabel("position (audio in orange, labelled by start time in the clip)")
        if annotate is None:
            annotate = n_layers * n_pos <= 300
        if annotate:
            decode = _decoder(tokenizer or self.tokenizer)
            for li in range(n_layers):
                for pi in range(n_pos):
                    ax.text(
                        pi,
                        li,
                        str(decode(int(self.top_ids[li, pi, 0])))[:6],
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white",
                    )
        ax.set_title(title or f"logit lens: {label}")
        ax.figure.colorbar(image, ax=ax, label=label)
        return ax


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """`(start, stop)` of each run of True in `flags`."""
    runs, start = [], None
    for i, flag in enumerate(list(flags) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _decoder(tokenizer: Any) -> Callable[[int], Any]:
    if tokenizer is None:
        return lambda token: token
    return lambda token: tokenizer.decode([token])
