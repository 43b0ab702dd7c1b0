"""The layer information score: how often the logit lens at each layer already gives the
correct answer, over a dataset of (inputs, answer candidates, correct answer) items.

Definition used here (for each item and lens layer `l = 0..n_layers`, see `logit_lens`):

- Read position: the prompt's last non-padding position by default (`position="last"`), i.e.
  the position whose next-token distribution is the answer; the prompt must end right
  before the answer (e.g. an assistant turn pre-filled with "The speaker's emotion is").
- Each candidate is read through its first token: a token id, the first id of a sequence of
  ids, or the first token of a string (tokenized without special tokens by `tokenizer`, by
  default the attached processor's; mind the leading space a word has after "is").
  Candidates must have distinct first tokens.
- Projection: `unembed(ln_final(resid_l))` at the read position, the model's own final norm
  and unembedding (lens layer `n_layers` is the model's output).
- `over="candidates"` (default): the layer predicts the candidate with the largest logit among
  the candidates' first tokens (argmax over the candidate set, not the vocabulary; ties go to
  the earlier candidate). `over="vocab"`: the layer predicts the argmax of the whole vocabulary,
  correct only if that is the answer's first token.
- Score(l) = fraction of items whose layer-`l` prediction is the correct answer. Chance, for
  `over="candidates"`, is the mean of `1 / n_candidates`.
- Critical layer of an item: the first lens layer from which the prediction is correct at every
  later layer up to the output; None if the model's own output (the last layer) is wrong.
  With a subset of `layers`, "every later layer" means every later computed layer.

Also reported per item and layer: the answer's probability over the whole vocabulary (what the
AudioLens authors' released code records per option) and its probability renormalised over the
candidates (softmax of the candidates' logits).

Relation to Yang et al. 2025 (AudioLens): their released code reads, at the last position of
a prompt ending in a probing phrase, the full-vocabulary softmax probability of each option's
first token after every decoder layer's output (HF `hidden_states[1:]`, the last one with the
final norm already applied), i.e. our lens layers 1..n_layers; lens layer 0 (the embeddings)
is extra here. The paper's exact formulas for its information score and critical layer could
not be checked here (only the abstract was available); this module implements the
description "per-layer accuracy of the vocabulary projection" as defined above, and reports
the probabilities so that a probability-based variant can be computed from
`answer_prob` / `candidate_prob`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens import ActivationCache

from hooked_audio.models.audio_lm.lens_positions import resolve_positions
from hooked_audio.models.audio_lm.lens_readout import (
    DEFAULT_MAX_ELEMENTS,
    capture_residuals,
    check_layers,
    lens_hook_names,
    lens_labels,
    read_vocabulary,
    residuals_from_cache,
)
from hooked_audio.models.audio_lm.lens_tokens import TokenSpec, resolve_token


@dataclass
class ScoreItem:
    """One question: `inputs` (the model's HF keyword inputs for one prompt, or an
    `ActivationCache` of it), the answer `candidates`, and the correct `answer` (one of the
    candidates, given by value: an id, a string, or a token sequence). With a cache no
    attention mask is known, so `position="last"` reads its last position: give an unpadded
    prompt, or an explicit position."""

    inputs: Mapping[str, Any] | ActivationCache
    candidates: Sequence[TokenSpec]
    answer: TokenSpec


@dataclass
class LayerScoreResult:
    """`accuracy[l]`: the layer information score of lens layer `layers[l]` (see the module
    docstring); `correct[i, l]`, `prediction[i, l]` (index into item i's candidates, or the
    vocabulary argmax with `over="vocab"`), `answer_prob[i, l]` (whole vocabulary),
    `candidate_prob[i, l]` (renormalised over the candidates) per item; `critical_layers[i]`."""

    layers: list[int]
    labels: list[str]
    accuracy: Float[Tensor, " layer"]
    correct: Bool[Tensor, "item layer"]
    prediction: Int[Tensor, "item layer"]
    answer_prob: Float[Tensor, "item layer"]
    candidate_prob: Float[Tensor, "item layer"]
    critical_layers: list[int | None]
    chance: float | None
    over: str
    metadata: dict = field(default_factory=dict)

    @property
    def final_accuracy(self) -> float:
        """Accuracy of the model's own output (the last lens layer, when it was computed)."""
        return float(self.accuracy[-1])

    def resolved_fraction(self) -> Float[Tensor, " layer"]:
        """Fraction of items whose critical layer is at or below each layer."""
        crit = torch.tensor([c if c is not None else -1 for c in self.critical_layers])
        layers = torch.tensor(self.layers)
        return ((crit[:, None] >= 0) & (crit[:, None] <= layers[None])).float().mean(0)

    def to_dataframe(self):
        """One row per layer: accuracy (the score), chance, mean answer probabilities, the
        fraction of items resolved by then and the number whose critical layer it is."""
        import pandas as pd

        resolved = self.resolved_fraction()
        rows = []
        for li, layer in enumerate(self.layers):
            rows.append(
                {
                    "layer": layer,
                    "label": self.labels[li],
                    "accuracy": float(self.accuracy[li]),
                    "chance": self.chance,
                    "mean_answer_prob": float(self.answer_prob[:, li].mean()),
                    "mean_candidate_prob": float(self.candidate_prob[:, li].mean()),
                    "resolved_fraction": float(resolved[li]),
                    "n_critical": sum(c == layer for c in self.critical_layers),
                    "n_items": int(self.correct.shape[0]),
                }
            )
        return pd.DataFrame(rows)

    def item_dataframe(self):
        """One row per (item, layer)."""
        import pandas as pd

        rows = []
        for i in range(self.correct.shape[0]):
            for li, layer in enumerate(self.layers):
                rows.append(
                    {
                        "item": i,
                        "layer": layer,
                        "correct": bool(self.correct[i, li]),
                        "prediction": int(self.prediction[i, li]),
                        "answer_prob": float(self.answer_prob[i, li]),
                        "candidate_prob": float(self.candidate_prob[i, li]),
                        "critical_layer": self.critical_layers[i],
                    }
                )
        return pd.DataFrame(rows)

    def plot(self, ax=None, title: str | None = None):
        """Accuracy per layer (the score), the mean renormalised answer probability, chance,
        and bars for where items become resolved (their critical layer)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(max(6, min(14, 2 + 0.3 * len(self.layers))), 4))
        x = list(range(len(self.layers)))
        n = max(1, self.correct.shape[0])
        share = [sum(c == layer for c in self.critical_layers) / n for layer in self.layers]
        ax.bar(x, share, color="0.85", label="items resolved at this layer")
        ax.plot(x, self.accuracy.numpy(), "o-", color="tab:blue", label="accuracy (score)")
        if self.over == "candidates":
            ax.plot(
                x,
                self.candidate_prob.mean(0).numpy(),
                ".:",
                color="tab:green",
                label="mean p(answer | candidates)",
            )
        else:
            ax.plot(
                x, self.answer_prob.mean(0).numpy(), ".:", color="tab:green", label="mean p(answer)"
            )
        if self.chance is not None:
            ax.axhline(self.chance, ls="--", color="0.4", label="chance")
        ax.set_xticks(x, self.labels, rotation=90 if len(x) > 12 else 0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("lens layer")
        ax.set_ylabel("fraction of items")
        ax.set_title(title or f"layer information score ({self.over}, {n} items)")
        ax.legend(fontsize=7, loc="best")
        return ax


def _as_item(item: Any) -> ScoreItem:
    if isinstance(item, ScoreItem):
        return item
    if isinstance(item, (tuple, list)) and len(item) == 3:
        return ScoreItem(*item)
    if isinstance(item, Mapping) and {"inputs", "candidates", "answer"} <= set(item):
        return ScoreItem(item["inputs"], item["candidates"], item["answer"])
    raise TypeError(
        "Each item must be a ScoreItem, a tuple (inputs, candidates, answer) or a "
        "dict with those keys."
    )


def _read_position(item: ScoreItem, position: str | int) -> tuple[int, int]:
    """(sequence length, absolute read position) of a batch-1 item."""
    inputs = item.inputs
    if isinstance(inputs, ActivationCache):
        x = inputs["blocks.0.hook_resid_pre"]
        if inputs.has_batch_dim:
            if x.shape[0] != 1:
                raise ValueError(
                    f"An item's cache has batch {x.shape[0]}; items are one prompt each."
                )
            x = x[0]
        seq_len, mask = x.shape[0], None
    else:
        ids = inputs["input_ids"]
        ids = ids[None] if ids.ndim == 1 else ids
        if ids.shape[0] != 1:
            raise ValueError(
                f"An item's input_ids have batch {ids.shape[0]}; items are one "
                "prompt each (split the batch into items)."
            )
        seq_len = ids.shape[1]
        mask = inputs.get("attention_mask")
        mask = None if mask is None else mask.reshape(-1)
    if position == "last":
        if mask is None:
            return seq_len, seq_len - 1
        return seq_len, int(torch.nonzero(mask).max())
    if isinstance(position, str):
        raise ValueError(f"position must be 'last' or an index; got {position!r}.")
    return seq_len, resolve_positions(int(position), seq_len)[0]


def layer_information_score(
    model: Any,
    items: Sequence[Any],
    position: str | int = "last",
    over: str = "candidates",
    tokenizer: Any = None,
    layers: Sequence[int] | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> LayerScoreResult:
    """Per lens layer, the fraction of `items` whose vocabulary projection at `position`
    already names the correct answer (definition in the module docstring). Items are
    `ScoreItem`s or `(inputs, candidates, answer)` tuples, one prompt each; each is run once,
    keeping only the residual stream at the read position."""
    if over not in ("candidates", "vocab"):
        raise ValueError(f"over must be 'candidates' or 'vocab'; got {over!r}.")
    items = [_as_item(item) for item in items]
    if not items:
        raise ValueError(
            "The dataset is empty: give at least one (inputs, candidates, answer) item."
        )
    n_layers = model.cfg.n_layers
    layers = sorted(set(check_layers(layers, n_layers)))
    names = [lens_hook_names(n_layers)[l] for l in layers]
    correct, prediction, answer_prob, candidate_prob, inverse_counts = [], [], [], [], []
    for i, item in enumerate(items):
        if len(item.candidates) < 2:
            raise ValueError(
                f"Item {i} has {len(item.candidates)} candidate(s); a choice needs two or more."
            )
        ids = [
            resolve_token(model, c, tokenizer, f"candidate of item {i}", True)
            for c in item.candidates
        ]
        if len(set(ids)) != len(ids):
            raise ValueError(
                f"Item {i}: candidates share a first token ({ids}); the lens cannot "
                "tell them apart."
            )
        answer = resolve_token(model, item.answer, tokenizer, f"answer of item {i}", True)
        if answer not in ids:
            raise ValueError(
                f"Item {i}: the answer (token {answer}) is not among its candidates {ids}."
            )
        _, pos = _read_position(item, position)
        if isinstance(item.inputs, ActivationCache):
            stack = residuals_from_cache(item.inputs, names, 0, [pos])[:, 0]
        else:
            stack = capture_residuals(model, item.inputs, names, 0, [pos])[:, 0]
        read = read_vocabulary(model, stack, ids, top_k=1, max_elements=max_elements)
        target = ids.index(answer)
        if over == "candidates":
            pred = read.target_log_probs.argmax(-1)  # [layer]
            correct.append(pred == target)
        else:
            pred = read.top_ids[:, 0]
            correct.append(pred == answer)
        prediction.append(pred)
        answer_prob.append(read.target_log_probs[:, target].exp())
        candidate_prob.append(read.target_log_probs.softmax(-1)[:, target])
        inverse_counts.append(1.0 / len(ids))
    correct_t = torch.stack(correct)
    critical: list[int | None] = []
    for row in correct_t.tolist():
        first = None
        for li in range(len(layers) - 1, -1, -1):
            if not row[li]:
                break
            first = layers[li]
        critical.append(first)
    return LayerScoreResult(
        layers=layers,
        labels=lens_labels(layers, n_layers),
        accuracy=correct_t.float().mean(0),
        correct=correct_t,
        prediction=torch.stack(prediction),
        answer_prob=torch.stack(answer_prob),
        candidate_prob=torch.stack(candidate_prob),
        critical_layers=critical,
        chance=sum(inverse_counts) / len(inverse_counts) if over == "candidates" else None,
        over=over,
        metadata={"position": position, "n_items": len(items)},
    )
