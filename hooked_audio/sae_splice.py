"""Splicing a sparse autoencoder into a hooked model at one of its hook points.

`add_sae(model, sae)` replaces the hook point the SAE was trained on (e.g.
`encoder.blocks.2.hook_resid_post`) by an `SAESplice`: a hook point of the same name whose
forward runs the SAE, with hook points of its own under that name, as SAELens names them:

- `<hook>.hook_sae_input`: the activation the SAE reads, `[batch, pos, d_in]`;
- `<hook>.hook_sae_acts_post`: the feature activations, `[batch, pos, d_sae]` (ablate,
  steer, cache or patch features here; a position is a 20 ms frame on an encoder stream);
- `<hook>.hook_sae_recons`: the reconstruction decoded from those features;
- `<hook>.hook_sae_error`: the activation minus the reconstruction of the unedited features;
- `<hook>.hook_sae_output`: what flows on, also seen by hooks on `<hook>` itself.

With `use_error_term=True` the output is `recons + error`, equal to the original activation
until a hook edits the features (then exactly the edit's effect is added), so the model's
outputs are unchanged by splicing. With `use_error_term=False` the model runs on the
reconstruction: the loss increase of that run is the usual measure of what the SAE misses.
Unlike SAELens's own wrapper, the error term keeps its gradient, so gradient attribution
through a spliced model sees every path.

This works on any hooked model of the library (it talks to `model.hook_dict` and
`model.setup()` only) and with any SAE that has SAELens's `encode` / `decode` and `cfg.d_in`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from hooked_audio.hook_point import AudioHookPoint

#: The hook points an `SAESplice` adds under its own name, in the order they fire.
SAE_HOOKS = (
    "hook_sae_input",
    "hook_sae_acts_post",
    "hook_sae_recons",
    "hook_sae_error",
    "hook_sae_output",
)


class SAESplice(AudioHookPoint):
    """A hook point that runs `sae` on what passes through it (module docstring)."""

    def __init__(self, sae: Any, original: AudioHookPoint, use_error_term: bool):
        super().__init__()
        # Kept out of the module tree (as SAELens's wrapper does), so the SAE's own hook
        # points and parameters do not appear under the model's names or in its state dict.
        self.__dict__["sae"] = sae
        self.__dict__["original"] = original
        self.use_error_term = bool(use_error_term)
        for name in SAE_HOOKS:
            setattr(self, name, AudioHookPoint())

    def forward(self, x: Tensor) -> Tensor:
        d_in = self.sae.cfg.d_in
        if x.shape[-1] != d_in:
            raise ValueError(
                f"The SAE at {self.name!r} reads {d_in} features, but the activation there has "
                f"{x.shape[-1]} ({tuple(x.shape)}): it was trained on another hook or model."
            )
        sae_in = self.hook_sae_input(x)
        acts = acts_clean = self.sae.encode(sae_in)
        recons_clean = self.sae.decode(acts).to(x.dtype)
        if self.hook_sae_acts_post.has_listeners():
            # A hook may edit the features in place: it gets a copy, and an edit is decoded.
            acts = self.hook_sae_acts_post(acts.clone())
            edited = not torch.equal(acts, acts_clean)
        else:
            acts, edited = self.hook_sae_acts_post(acts), False
        recons = self.sae.decode(acts).to(x.dtype) if edited else recons_clean
        if not self.use_error_term:
            return self.hook_sae_output(self.hook_sae_recons(recons))
        error = sae_in - recons_clean
        seen_recons = self.hook_sae_recons(_copy_if_hooked(recons, self.hook_sae_recons))
        seen_error = self.hook_sae_error(_copy_if_hooked(error, self.hook_sae_error))
        # recons + error, written as the input plus what the hooks changed: where nothing was
        # edited (no hook, or only hooks that read) the input passes on exactly, not with the
        # sum's rounding, and so does every position an edit did not touch.
        out = sae_in + (seen_recons - recons_clean) + (seen_error - error)
        return self.hook_sae_output(out)

    def extra_repr(self) -> str:
        sae = self.sae
        return (
            f"{type(sae).__name__}(d_in={sae.cfg.d_in}, d_sae={sae.cfg.d_sae}), "
            f"use_error_term={self.use_error_term}"
        )


def _copy_if_hooked(x: Tensor, point: AudioHookPoint) -> Tensor:
    """A copy for a hook that might edit it in place (the original is still needed)."""
    return x.clone() if point.has_listeners() else x


def sae_hook_name(sae: Any, hook_name: str | None = None) -> str:
    """`hook_name`, or the hook the SAE was trained on (`sae.cfg.metadata.hook_name`)."""
    if hook_name is not None:
        return hook_name
    metadata = getattr(getattr(sae, "cfg", None), "metadata", None)
    name = getattr(metadata, "hook_name", None) if metadata is not None else None
    if not name:
        raise ValueError(
            "This SAE does not say which hook it was trained on (cfg.metadata.hook_name is "
            "empty); pass hook_name='encoder.blocks.2.hook_resid_post' (for example)."
        )
    return name


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The module holding the hook point `name`, and the point's attribute name there."""
    path, _, last = name.rpartition(".")
    return model.get_submodule(path), last


def _check_sae(sae: Any) -> None:
    missing = [a for a in ("encode", "decode", "cfg") if not hasattr(sae, a)]
    if missing:
        raise TypeError(
            f"{type(sae).__name__} is not an SAE: it lacks {missing}. Pass a SAELens SAE "
            "(hooked_audio.sae.load_sae, or one trained with hooked_audio.sae.train_sae)."
        )


def add_sae(
    model: Any, sae: Any, hook_name: str | None = None, use_error_term: bool = False
) -> SAESplice:
    """Splice `sae` into `model` at `hook_name` (default: the hook it was trained on) and
    return the splice; see the module docstring for the hook points and `use_error_term`.
    Stream views made before this call do not see the new hook points: make them again."""
    _check_sae(sae)
    name = sae_hook_name(sae, hook_name)
    point = model.hook_dict.get(name)
    if point is None:
        close = sorted(n for n in model.hook_dict if n.endswith(name.split(".")[-1]))[:4]
        raise KeyError(f"{name!r} is not a hook point of this model; e.g. {close}.")
    if isinstance(point, SAESplice):
        raise ValueError(f"An SAE is already spliced at {name!r}; remove it first (reset_saes).")
    if name.split(".")[-1].startswith("hook_sae_"):
        raise ValueError(f"{name!r} belongs to a spliced SAE; splice at a model hook point.")
    if point.has_listeners():
        raise ValueError(
            f"{name!r} has hooks attached; remove them (model.reset_hooks()) before splicing."
        )
    device = next(model.parameters()).device
    splice = SAESplice(sae.to(device), point, use_error_term)
    splice.train(point.training)  # a new module starts in training mode; the model is not
    parent, attr = _parent(model, name)
    setattr(parent, attr, splice)
    model.setup()
    return splice


def spliced_saes(model: Any) -> dict[str, Any]:
    """`{hook name: SAE}` for every SAE spliced into `model`."""
    return {name: p.sae for name, p in model.hook_dict.items() if isinstance(p, SAESplice)}


def remove_saes(model: Any, hook_names: Sequence[str] | None = None) -> None:
    """Put back the original hook points (all, or those at `hook_names`)."""
    splices = {n: p for n, p in model.hook_dict.items() if isinstance(p, SAESplice)}
    names = list(splices) if hook_names is None else list(hook_names)
    unknown = [n for n in names if n not in splices]
    if unknown:
        raise KeyError(f"No SAE is spliced at {unknown}; spliced: {sorted(splices)}.")
    for name in names:
        parent, attr = _parent(model, name)
        setattr(parent, attr, splices[name].original)
    model.setup()


@contextmanager
def saes(
    model: Any,
    saes: Sequence[Any],
    use_error_term: bool = False,
    hook_names: Sequence[str | None] | None = None,
) -> Iterator[Any]:
    """Splice `saes` for the duration of a `with` block, then put the hook points back."""
    hook_names = list(hook_names) if hook_names is not None else [None] * len(saes)
    if len(hook_names) != len(saes):
        raise ValueError(f"{len(saes)} SAEs but {len(hook_names)} hook names.")
    added: list[str] = []
    try:
        for sae, name in zip(saes, hook_names):
            added.append(add_sae(model, sae, name, use_error_term).name)
        yield model
    finally:
        if added:
            remove_saes(model, added)


@torch.no_grad()
def feature_directions(sae: Any, features: Sequence[int]) -> Tensor:
    """The decoder rows `W_dec[features]` `[n, d_in]`: what a unit of each feature adds to
    the activation (before SAELens's output normalisation, which is the identity unless the
    SAE was trained with `normalize_activations`)."""
    return sae.W_dec[list(features)].detach()
