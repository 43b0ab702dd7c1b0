"""TransformerLens's weight processing for Whisper, in place: the same outputs from weights
that make the residual stream easier to read (TransformerLens's `from_pretrained` does the
same for language models; its `ActivationCache` helpers assume it).

- `fold_layer_norm_`: every LayerNorm's weight and bias go into the weights that read its
  output, and the LayerNorm is left normalising only (weight 1, bias 0, so every hook keeps
  its name): `ln1` into the self-attention's queries, keys and values, `ln2` into the MLP's
  input, the decoder's `ln_cross` into the cross-attention's queries, the encoder's `ln_post`
  into every decoder layer's cross-attention keys and values, `ln_final` into the (then
  untied) unembedding and its bias.
- `center_writing_weights_`: the weights that write to a residual stream (attention and
  cross-attention outputs, MLP outputs, token and position embeddings) lose their mean over
  `d_model`. Every reader of the stream is a LayerNorm, which removes that mean anyway. The
  encoder's conv stem writes through a GELU and is left as it is.
- `center_unembed_`: the unembedding loses its mean over the vocabulary, which moves every
  position's logits by the same amount: log-probabilities and logit differences do not
  change, raw logits do.
- `fold_value_biases_`: each attention's value bias goes into its output bias (a pattern's
  row sums to 1, so every position gets the same `b_V @ W_O`).

The unembedding is untied from the token embedding first (`WhisperDecoder.untie_unembed_`),
since folding and centring change the two differently. tests/models/whisper/
test_weight_processing.py checks the outputs against the unprocessed model.
"""

from __future__ import annotations

import torch
from torch import nn

from hooked_audio.weight_checks import warn_low_precision_processing


def _identity_(ln) -> None:
    ln.w.data.fill_(1.0)
    ln.b.data.zero_()


def _fold_into_heads_(ln, attn, which: str) -> None:
    """`which` of "QKV": fold `ln`'s weight and bias into those projections of `attn`."""
    w, b = ln.w.data, ln.b.data
    for name in which:
        W, bias = getattr(attn, f"W_{name}"), getattr(attn, f"b_{name}")
        bias.data += torch.einsum("m,hme->he", b, W.data)
        W.data *= w[None, :, None]


def fold_layer_norm_(model) -> None:
    encoder, decoder = model.encoder, model.decoder
    for block in encoder.blocks:
        _fold_into_heads_(block.ln1, block.attn, "QKV")
        _fold_mlp_(block)
    for block in decoder.blocks:
        _fold_into_heads_(block.ln1, block.attn, "QKV")
        _fold_into_heads_(block.ln_cross, block.cross_attn, "Q")
        _fold_into_heads_(encoder.ln_post, block.cross_attn, "KV")
        _fold_mlp_(block)
        for ln in (block.ln1, block.ln_cross, block.ln2):
            _identity_(ln)
    for block in encoder.blocks:
        _identity_(block.ln1)
        _identity_(block.ln2)
    _identity_(encoder.ln_post)
    decoder.untie_unembed_()
    w, b = decoder.ln_final.w.data, decoder.ln_final.b.data
    decoder.untied_b_U.data += b @ decoder.untied_W_U.data
    decoder.untied_W_U.data *= w[:, None]
    _identity_(decoder.ln_final)


def _fold_mlp_(block) -> None:
    w, b = block.ln2.w.data, block.ln2.b.data
    block.mlp.b_in.data += b @ block.mlp.W_in.data
    block.mlp.W_in.data *= w[:, None]


def _attentions(block) -> list:
    """A block's attentions: self-attention, and cross-attention in a decoder block."""
    return [block.attn] + ([block.cross_attn] if hasattr(block, "cross_attn") else [])


def _center_(param: nn.Parameter | torch.Tensor) -> None:
    param.data -= param.data.mean(-1, keepdim=True)


def center_writing_weights_(model) -> None:
    decoder = model.decoder
    decoder.untie_unembed_()  # centring the embedding must not move the unembedding
    for stack in (model.encoder, decoder):
        _center_(stack.W_pos)
        for block in stack.blocks:
            for attn in _attentions(block):
                _center_(attn.W_O)
                attn.b_O.data -= attn.b_O.data.mean()
            _center_(block.mlp.W_out)
            block.mlp.b_out.data -= block.mlp.b_out.data.mean()
    _center_(decoder.W_E)


def center_unembed_(model) -> None:
    decoder = model.decoder
    decoder.untie_unembed_()
    _center_(decoder.untied_W_U)
    decoder.untied_b_U.data -= decoder.untied_b_U.data.mean()


def fold_value_biases_(model) -> None:
    for stack in (model.encoder, model.decoder):
        for block in stack.blocks:
            for attn in _attentions(block):
                attn.b_O.data += torch.einsum("he,hem->m", attn.b_V.data, attn.W_O.data)
                attn.b_V.data.zero_()


def process_weights_(
    model,
    fold_ln: bool = True,
    center_writing_weights: bool = True,
    center_unembed: bool = True,
    fold_value_biases: bool = True,
):
    """The chosen steps, in TransformerLens's order; returns the model. Warns when the model
    is in a 16-bit dtype (process in float32, then cast)."""
    warn_low_precision_processing(model)
    with torch.no_grad():
        if fold_ln:
            fold_layer_norm_(model)
        if center_writing_weights:
            center_writing_weights_(model)
        if center_unembed:
            center_unembed_(model)
        if fold_value_biases:
            fold_value_biases_(model)
    return model
