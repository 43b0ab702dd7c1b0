"""The one neutral format every Whisper loader returns.

Whatever the source (openai-whisper `.pt`, HF transformers, CTranslate2 `model.bin`), a loader
renames and splits the weights into openai-whisper's own parameter names, so the conversion
to the hooked layout exists exactly once and can be checked against openai-whisper itself:
`whisper.model.Whisper(ckpt.dims).load_state_dict(ckpt.state_dict, strict=True)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import whisper.model
from torch import Tensor

from hooked_audio.models.whisper.vocabulary import MULTILINGUAL_VOCAB_SIZE, NON_LANGUAGE_VOCAB_SIZE
from hooked_audio.weight_checks import check_finite_weights


@dataclass
class WhisperCheckpoint:
    """Dimensions, float32 weights under openai-whisper's names, and where they came from.

    `alignment_heads` are the (decoder layer, head) cross-attention heads used for word
    timestamps, or None when the source does not say (openai-whisper then falls back to
    every head of the second half of the decoder). Weights holding NaN or infinity are
    refused (a `ValueError` naming them and `source`).
    """

    dims: whisper.model.ModelDimensions
    state_dict: dict[str, Tensor]  # openai-whisper names: "decoder.blocks.0.cross_attn.key.weight"
    alignment_heads: list[tuple[int, int]] | None
    source: str

    def __post_init__(self) -> None:
        check_finite_weights(self.state_dict, self.source)

    @property
    def is_multilingual(self) -> bool:
        """Whether the tokenizer is the multilingual one (same rule as openai-whisper)."""
        return self.dims.n_vocab >= MULTILINGUAL_VOCAB_SIZE

    @property
    def num_languages(self) -> int:
        """Language tokens in the vocabulary (openai-whisper's `Whisper.num_languages`)."""
        return self.dims.n_vocab - NON_LANGUAGE_VOCAB_SIZE - int(self.is_multilingual)

    def to_openai_whisper(self) -> whisper.model.Whisper:
        """An openai-whisper model with these weights (strict load) and alignment heads, in
        eval mode: the reference implementation to compare a converted model against."""
        model = whisper.model.Whisper(self.dims)
        model.load_state_dict(self.state_dict, strict=True)
        if self.alignment_heads is not None:
            mask = torch.zeros(self.dims.n_text_layer, self.dims.n_text_head, dtype=torch.bool)
            for layer, head in self.alignment_heads:
                mask[layer, head] = True
            # Same buffer `Whisper.set_alignment_heads` registers from a base85 dump.
            model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
        return model.eval()


def _integer_pairs(heads: object, source: str) -> list[tuple[int, int]]:
    def refuse(what: object) -> ValueError:
        return ValueError(
            f"{source}: alignment heads must be (layer, head) pairs of whole numbers, e.g. "
            f"[(2, 0), (3, 1)]; got {what!r}."
        )

    if isinstance(heads, (str, bytes)) or not hasattr(heads, "__iter__"):
        raise refuse(heads)
    pairs = []
    for item in heads:
        if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:
            raise refuse(item)
        if not all(_is_whole_number(value) for value in item):
            raise refuse(item)
        layer, head = item
        pairs.append((int(layer), int(head)))
    return pairs


def _is_whole_number(value: object) -> bool:
    """An int (Python, numpy or a 0-d tensor's item), or a float holding one; not a bool or
    a string."""
    if isinstance(value, (bool, str, bytes)):
        return False
    try:
        return float(value).is_integer()
    except (TypeError, ValueError):
        return False


def check_alignment_heads(
    heads: list[tuple[int, int]], n_text_layer: int, n_text_head: int, source: str
) -> list[tuple[int, int]]:
    """(layer, head) pairs as int tuples, refusing anything but pairs of whole numbers, and
    any pair outside the decoder's shape."""
    pairs = _integer_pairs(heads, source)
    for layer, head in pairs:
        if not (0 <= layer < n_text_layer and 0 <= head < n_text_head):
            raise ValueError(
                f"{source}: alignment head ({layer}, {head}) is outside the decoder's "
                f"{n_text_layer} layers x {n_text_head} heads."
            )
    return pairs


def as_float32(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Floating tensors as float32 (official `.pt` files are float16, CT2 often float16 too),
    so every loader hands over one dtype; other tensors are left as they are."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}
