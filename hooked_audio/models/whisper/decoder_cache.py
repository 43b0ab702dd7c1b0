"""`ActivationCache` for the decoder stream: counts cross-attention in residual decompositions.

TransformerLens's `decompose_resid` and `get_full_resid_decomposition` know two writers per
block (attention and MLP). A Whisper decoder block has three: self-attention,
cross-attention onto the audio, MLP. Without the middle one the components would not add up
to the residual stream.
"""

from __future__ import annotations

from typing import Literal

import torch
from transformer_lens import ActivationCache
from transformer_lens.utilities import Slice, SliceInput


class WhisperDecoderCache(ActivationCache):
    """Adds `{l}_cross_attn_out` components (counted as attention) to `decompose_resid`."""

    def decompose_resid(
        self,
        layer: int | None = None,
        mlp_input: bool = False,
        mode: Literal["all", "mlp", "attn"] = "all",
        apply_ln: bool = False,
        pos_slice: Slice | SliceInput = None,
        incl_embeds: bool = True,
        return_labels: bool = False,
    ):
        """As `ActivationCache.decompose_resid`, with each block's cross-attention output after
        its self-attention output; `mlp_input=True` adds both of the layer's attention outputs."""
        pos_slice = pos_slice if isinstance(pos_slice, Slice) else Slice(pos_slice)
        layer = self.model.cfg.n_layers if layer is None or layer == -1 else layer
        parts: list[tuple[str, str]] = []
        if incl_embeds:
            parts += [
                (name, label)
                for name, label in (("hook_embed", "embed"), ("hook_pos_embed", "pos_embed"))
                if name in self.cache_dict
            ]
        for l in range(layer + int(mlp_input)):
            if mode != "mlp":
                parts += [
                    (f"blocks.{l}.hook_attn_out", f"{l}_attn_out"),
                    (f"blocks.{l}.hook_cross_attn_out", f"{l}_cross_attn_out"),
                ]
            if mode != "attn" and l < layer:
                parts.append((f"blocks.{l}.hook_mlp_out", f"{l}_mlp_out"))
        components = torch.stack([pos_slice.apply(self[name], dim=-2) for name, _ in parts])
        if apply_ln:
            components = self.apply_ln_to_stack(
                components, layer, pos_slice=pos_slice, mlp_input=mlp_input
            )
        labels = [label for _, label in parts]
        return (components, labels) if return_labels else components

    def get_full_resid_decomposition(
        self,
        layer: int | None = None,
        mlp_input: bool = False,
        expand_neurons: bool = True,
        apply_ln: bool = False,
        pos_slice: Slice | SliceInput = None,
        return_labels: bool = False,
        project_output_onto: torch.Tensor | None = None,
    ):
        """As `ActivationCache.get_full_resid_decomposition`, with every cross-attention head
        (`L{l}X{h}`, from `cross_attn.hook_result`: needs `use_attn_result`) after the
        self-attention heads. Components sum to the residual stream."""
        pos_slice = pos_slice if isinstance(pos_slice, Slice) else Slice(pos_slice)
        layer = self.model.cfg.n_layers if layer is None or layer == -1 else layer
        stack, labels = super().get_full_resid_decomposition(
            layer,
            mlp_input,
            expand_neurons,
            apply_ln=False,
            pos_slice=pos_slice,
            return_labels=True,
        )
        n_self_heads = sum(label.startswith("L") and "H" in label for label in labels)
        cross, cross_labels = [], []
        for l in range(layer + int(mlp_input)):
            result = pos_slice.apply(self[f"blocks.{l}.cross_attn.hook_result"], dim=-3)
            cross.append(torch.movedim(result, -2, 0))
            cross_labels += [f"L{l}X{h}" for h in range(result.shape[-2])]
        stack = torch.cat([stack[:n_self_heads], *cross, stack[n_self_heads:]], dim=0)
        labels = labels[:n_self_heads] + cross_labels + labels[n_self_heads:]
        if apply_ln:
            stack = self.apply_ln_to_stack(stack, layer, pos_slice=pos_slice, mlp_input=mlp_input)
        if project_output_onto is not None:
            stack = stack @ project_output_onto
        return (stack, labels) if return_labels else stack
