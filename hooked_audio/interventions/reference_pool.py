"""Reference activations for mean and resample ablation, gathered while the model transcribes
a reference clip set with nothing ablated.

A site's pool holds the vectors its hook produced at every position of every reference clip
(for a head: that head's `d_head` slice). Its `mean` is exact over all of them (a running sum);
the vectors kept for resampling are at most `max_vectors`, a uniform random subset (seeded)
when there were more, so a 30 s encoder window (1500 frames per clip) does not keep every frame
of every clip.

What "every position" means: the encoder's 1500 frames of each window (the padding after a
short clip included, as the model sees it); the decoder's positions as greedy decoding reaches
them (the prompt, then one token per step) up to the end of each transcript: the positions
batched decoding runs after a row's transcript has ended (the transcriber's `live_positions`
says which) are left out, so a pool does not depend on how the reference clips were batched.
The pool does not remember positions: resampling draws any reference position, which is what
lets it replace a decoder position beyond the length of every reference transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from hooked_audio.interventions.sites import AblationSite


@dataclass
class ReferencePool:
    """The reference vectors of one site: `mean` (`[d]`, over every position seen) and
    `vectors` (`[n, d]`, at most `max_vectors` of them)."""

    site: AblationSite
    max_vectors: int = 10_000
    seed: int = 0
    count: int = 0
    _sum: Tensor | None = None
    _kept: list[Tensor] = field(default_factory=list)

    def add(self, activation: Tensor, live: Tensor | None = None) -> None:
        """Take every position of one hook output (the site's slice of it), or, given `live`
        (`[batch, pos]` booleans), the positions where it is True."""
        vectors = site_vectors(self.site, activation, live).detach().float().cpu()
        self._sum = vectors.sum(0) if self._sum is None else self._sum + vectors.sum(0)
        self.count += len(vectors)
        self._kept.append(vectors)

    @property
    def mean(self) -> Tensor:
        if self._sum is None:
            raise ValueError(f"No reference activation was recorded at {self.site.key}.")
        return self._sum / self.count

    @property
    def vectors(self) -> Tensor:
        if not self._kept:
            raise ValueError(f"No reference activation was recorded at {self.site.key}.")
        kept = torch.cat(self._kept)
        if len(kept) > self.max_vectors:
            generator = torch.Generator().manual_seed(self.seed)
            kept = kept[torch.randperm(len(kept), generator=generator)[: self.max_vectors]]
        self._kept = [kept]
        return kept


def site_vectors(site: AblationSite, activation: Tensor, live: Tensor | None = None) -> Tensor:
    """The site's vectors in a hook output, one row per batch row and position (where `live`,
    `[batch, pos]` booleans, is True, when given): `[n, d]`."""
    if site.head is not None:
        activation = activation.select(site.head_axis, site.head)
    if live is None:
        return activation.reshape(-1, activation.shape[-1])
    if tuple(live.shape) != tuple(activation.shape[:2]) or activation.dim() != 3:
        raise ValueError(
            f"{site.key}: the live-position mask has shape {tuple(live.shape)}, but the hook's "
            f"output (the site's slice) is {tuple(activation.shape)}, not [batch, pos, d] with "
            "that batch and position count."
        )
    return activation[live.to(activation.device)]


class ReadableTranscriber(Protocol):
    """What `collect_reference_pools` reads with: `transcriber(fwd_hooks)` transcribes the
    reference clips with forward hooks `[(name, fn)]` active; `live_positions(hook_name)`, asked
    from inside a hook, says which `[batch, pos]` positions of that hook's output belong to a
    transcript (None: all of them). A family's `transcriber(...)` is one."""

    def __call__(self, fwd_hooks: Sequence[tuple[str, Any]]) -> object: ...

    def live_positions(self, hook_name: str) -> Tensor | None: ...


def collect_reference_pools(
    sites: Sequence[AblationSite],
    transcriber: ReadableTranscriber,
    max_vectors: int = 10_000,
    seed: int = 0,
) -> dict[str, ReferencePool]:
    """Each site's `ReferencePool`, keyed by `site.key`, from one call of `transcriber(hooks)`
    (a family's transcriber of the reference clips): the hooks only read, and only the
    positions `transcriber.live_positions` names."""
    pools = {site.key: ReferencePool(site, max_vectors, seed) for site in sites}

    def reader(pool: ReferencePool):
        def hook(activation: Tensor, hook=None) -> None:
            pool.add(activation, transcriber.live_positions(pool.site.hook_name))

        return hook

    transcriber([(pool.site.hook_name, reader(pool)) for pool in pools.values()])
    for pool in pools.values():
        if pool.count == 0:
            raise ValueError(
                f"The reference transcription never ran {pool.site.hook_name}: the site "
                f"{pool.site.key} cannot take a mean or resample ablation."
            )
    return pools
