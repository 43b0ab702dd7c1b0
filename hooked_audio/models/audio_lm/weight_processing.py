"""TransformerLens's weight processing for the audio LM's language model, in place, as
TransformerLens does it for RMSNorm models:

- `fold_ln`: each RMSNorm's weight goes into the weights that read its output (`ln1` into the
  queries, keys and values, `ln2` into the gated MLP's gate and input, `ln_final` into the
  unembedding), and the RMSNorm keeps only its scaling (weight 1; RMSNorm has no bias).
- `center_unembed`: the unembedding (and its bias) lose their mean over the vocabulary; every
  position's logits move by one constant, log-probabilities do not change.
- `fold_value_biases`: each attention's value biases (shared by the query heads of a key/value
  group) go into its output bias.

There is no `center_writing_weights`: RMSNorm does not subtract the mean, so centring what
writes to the stream would change the model (TransformerLens skips it for RMS models too).
The audio tower and the projector are left as they are. tests/models/audio_lm/
test_audio_lm_weight_processing.py checks the outputs against the unprocessed model.
"""

from __future__ import annotations

import torch

from hooked_audio.weight_checks import warn_low_precision_processing


def fold_layer_norm_(model) -> None:
    for block in model.blocks:
        w = block.ln1.w.data
        for W in (block.attn.W_Q, block.attn._W_K, block.attn._W_V):
            W.data *= w[None, :, None]
        block.ln1.w.data.fill_(1.0)
        w = block.ln2.w.data
        for W in (block.mlp.W_gate, block.mlp.W_in):
            W.data *= w[:, None]
        block.ln2.w.data.fill_(1.0)
    model.unembed.W_U.data *= model.ln_final.w.data[:, None]
    model.ln_final.w.data.fill_(1.0)


def center_unembed_(model) -> None:
    model.unembed.W_U.data -= model.unembed.W_U.data.mean(-1, keepdim=True)
    model.unembed.b_U.data -= model.unembed.b_U.data.mean()


def fold_value_biases_(model) -> None:
    for block in model.blocks:
        attn = block.attn
        b_V = attn._b_V.data.repeat_interleave(attn.repeats, dim=0)  # per query head
        attn.b_O.data += torch.einsum("he,hem->m", b_V, attn.W_O.data)
        attn._b_V.data.zero_()


def process_weights_(
    model, fold_ln: bool = True, center_unembed: bool = True, fold_value_biases: bool = True
):
    """The chosen steps, in TransformerLens's order; returns the model. Warns when the model
    is in a 16-bit dtype (process in float32, then cast)."""
    warn_low_precision_processing(model)
    with torch.no_grad():
        if fold_ln:
            fold_layer_norm_(model)
        if center_unembed:
            center_unembed_(model)
        if fold_value_biases:
            fold_value_biases_(model)
    return model
