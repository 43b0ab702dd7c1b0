"""Gated MLP (SwiGLU) in TransformerLens layout: `W_out(act(x @ W_gate) * (x @ W_in))`."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class GatedMLP(nn.Module):
    """Qwen2 / Llama MLP. Hooks as TransformerLens names them: `hook_pre` (the gate before its
    activation), `hook_pre_linear` (the linear branch), `hook_post` (their product).

    Biases (`b_gate`, `b_in`, `b_out`) exist for Llama's `mlp_bias=True` and stay zero otherwise.
    """

    def __init__(self, d_model: int, d_mlp: int, act_fn: str = "silu"):
        super().__init__()
        if act_fn not in ACTIVATIONS:
            raise ValueError(
                f"Unsupported MLP activation {act_fn!r}; known: {sorted(ACTIVATIONS)}."
            )
        self.act_fn = act_fn
        self.W_gate = nn.Parameter(torch.empty(d_model, d_mlp))
        self.W_in = nn.Parameter(torch.empty(d_model, d_mlp))
        self.W_out = nn.Parameter(torch.empty(d_mlp, d_model))
        self.b_gate = nn.Parameter(torch.zeros(d_mlp))
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.hook_pre = AudioHookPoint()  # [batch, pos, d_mlp]
        self.hook_pre_linear = AudioHookPoint()  # [batch, pos, d_mlp]
        self.hook_post = AudioHookPoint()  # [batch, pos, d_mlp]

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        pre = self.hook_pre(F.linear(x, self.W_gate.T, self.b_gate))
        pre_linear = self.hook_pre_linear(F.linear(x, self.W_in.T, self.b_in))
        post = self.hook_post(ACTIVATIONS[self.act_fn](pre) * pre_linear)
        return F.linear(post, self.W_out.T, self.b_out)
