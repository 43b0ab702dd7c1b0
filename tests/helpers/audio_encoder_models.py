"""Tiny random HF wav2vec2 / HuBERT models for the `HookedAudioEncoder` tests, and plain-torch
references computed on them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from transformers import (
    HubertConfig,
    HubertForCTC,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2ForCTC,
    Wav2Vec2Model,
)

CLASSES = {
    ("wav2vec2", False): Wav2Vec2Model,
    ("wav2vec2", True): Wav2Vec2ForCTC,
    ("hubert", False): HubertModel,
    ("hubert", True): HubertForCTC,
}
VOCAB = 12
N_POS = 6
#: samples for N_POS positions, with no sample left over: N_POS * 320 + 80
N_SAMPLES = N_POS * 320 + 80


def hf_config(
    architecture: str = "wav2vec2", stable: bool = False, norm: str = "group", **overrides
):
    """A tiny config: width 32, 2 layers, 4 heads, 16-channel conv stack of the real shape."""
    config_class = Wav2Vec2Config if architecture == "wav2vec2" else HubertConfig
    options = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        do_stable_layer_norm=stable,
        feat_extract_norm=norm,
        conv_bias=stable,
        vocab_size=VOCAB,
    )
    options.update(overrides)
    return config_class(**options)


def perturb(model: nn.Module, seed: int = 0, std: float = 0.2) -> nn.Module:
    """Every parameter redrawn around its init scale (norm gains around 1, nonzero biases), so
    that every term of the forward matters in a comparison."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            gain = "norm" in name and name.endswith("weight")
            param.copy_(float(gain) + std * torch.randn(param.shape, generator=gen))
    return model.eval()


def random_hf(
    architecture: str = "wav2vec2",
    ctc: bool = True,
    stable: bool = False,
    norm: str = "group",
    seed: int = 0,
    **overrides,
) -> nn.Module:
    torch.manual_seed(seed)
    model = CLASSES[(architecture, ctc)](hf_config(architecture, stable, norm, **overrides))
    return perturb(model, seed)


def base_of(hf_model: nn.Module) -> nn.Module:
    """The bare encoder (`Wav2Vec2Model` / `HubertModel`) of a HF model."""
    for name in ("wav2vec2", "hubert"):
        if hasattr(hf_model, name):
            return getattr(hf_model, name)
    return hf_model


def hf_output(hf_model: nn.Module, wave: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """The HF model's logits (CTC) or last hidden state."""
    with torch.no_grad():
        out = hf_model(wave, attention_mask=attention_mask)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def waveforms(seed: int = 0, batch: int = 1, n_samples: int = N_SAMPLES) -> tuple[Tensor, Tensor]:
    """`(clean, corrupt)`: noise-like clips that differ in positions 2 and 3 only
    (samples 640..1279, the hops of those positions)."""
    gen = torch.Generator().manual_seed(seed)
    clean = 0.5 * torch.randn(batch, n_samples, generator=gen)
    corrupt = clean.clone()
    corrupt[:, 640:1280] = 0.5 * torch.randn(batch, 640, generator=gen)
    return clean, corrupt


def brute_force_resid_pre(
    hf_model: nn.Module, clean: Tensor, corrupt: Tensor, metric: Callable[[Tensor], Tensor]
) -> Tensor:
    """`[n_layers, n_pos]`: the metric of the HF model on `corrupt` with the hidden state
    entering encoder layer `l` at position `p` taken from the `clean` run, by plain torch
    pre-hooks on HF's encoder layers."""
    layers = base_of(hf_model).encoder.layers

    def first_arg(args, kwargs):
        return args[0] if args else kwargs["hidden_states"]

    def replace_first(args, kwargs, value):
        if args:
            return (value, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": value}

    clean_in = {}
    handles = [
        layer.register_forward_pre_hook(
            lambda m, args, kwargs, l=l: clean_in.__setitem__(l, first_arg(args, kwargs).clone()),
            with_kwargs=True,
        )
        for l, layer in enumerate(layers)
    ]
    try:
        hf_output(hf_model, clean)
    finally:
        for handle in handles:
            handle.remove()
    n_pos = clean_in[0].shape[1]
    out = torch.zeros(len(layers), n_pos)
    for l, layer in enumerate(layers):
        for p in range(n_pos):

            def patch(module, args, kwargs, l=l, p=p):
                x = first_arg(args, kwargs).clone()
                x[:, p] = clean_in[l][:, p]
                return replace_first(args, kwargs, x)

            handle = layer.register_forward_pre_hook(patch, with_kwargs=True)
            try:
                out[l, p] = metric(hf_output(hf_model, corrupt))
            finally:
                handle.remove()
    return out
