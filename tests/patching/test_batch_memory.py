"""`batch_size=None` on an accelerator: cells per forward from the free memory and an upper
bound of one run's memory; on a CPU one cell per forward; batched cells give the same map."""

from __future__ import annotations

import torch

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.cache_memory import cache_bytes
from hooked_audio.patching import layer_sweep
from hooked_audio.patching.batch_memory import (
    FALLBACK_CELLS_PER_FORWARD,
    MAX_CELLS_PER_FORWARD,
    auto_batch_size,
    cells_per_forward,
    run_bytes,
)
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])


def test_cells_per_forward_from_free_memory():
    assert cells_per_forward(10_000, 1_000, 100) == 5  # half of the free memory
    assert cells_per_forward(10**12, 1_000, 100) == 100  # never more than the cells
    assert cells_per_forward(10**12, 1, 10**6) == MAX_CELLS_PER_FORWARD
    assert cells_per_forward(10, 1_000, 100) == 1  # at least one
    assert cells_per_forward(None, 1_000, 100) == FALLBACK_CELLS_PER_FORWARD
    assert cells_per_forward(None, 1_000, 3) == 3


def test_run_bytes_is_one_blocks_activations_twice_and_cpu_stays_at_one():
    model = HookedWhisper.from_openai_state_dict(DIMS, random_reference(DIMS, seed=1).state_dict())
    view = model.encoder_stream(TOKENS)
    frames = mel_to_frames(torch.randn(2, 80, 12))
    names = [n for n in view.hook_dict if n.startswith("blocks.0.")]
    one_row = sum(cache_bytes(names, {"": view.cache_extent(frames[:1])}, 4).values())
    assert run_bytes(view, frames) == 2 * one_row
    assert auto_batch_size(view, frames, 50) == 1  # on a CPU


def test_batched_cells_equal_one_cell_per_forward():
    model = HookedWhisper.from_openai_state_dict(DIMS, random_reference(DIMS, seed=1).state_dict())
    view = model.encoder_stream(TOKENS)
    gen = torch.Generator().manual_seed(0)
    clean = mel_to_frames(torch.randn(1, 80, 12, generator=gen))
    corrupt = mel_to_frames(torch.randn(1, 80, 12, generator=gen))

    def metric(logits):
        return logits[:, -1, 7].mean() - logits[:, -1, 8].mean()

    one = layer_sweep(view, clean, corrupt, metric, batch_size=1, progress=False)
    many = layer_sweep(view, clean, corrupt, metric, batch_size=4, progress=False)
    torch.testing.assert_close(many.values, one.values, atol=1e-5, rtol=1e-5)


def test_none_resolves_from_memory_on_an_accelerator(monkeypatch):
    """`batch_size=None` on a (pretend) CUDA view: half the free memory over one run's bytes;
    an explicit size is only checked."""
    import hooked_audio.patching.batch_memory as batch_memory

    model = HookedWhisper.from_openai_state_dict(DIMS, random_reference(DIMS, seed=1).state_dict())
    view = model.encoder_stream(TOKENS)
    frames = mel_to_frames(torch.randn(1, 80, 12))
    per_cell = run_bytes(view, frames)
    monkeypatch.setattr(type(view), "device", property(lambda self: torch.device("cuda")))
    monkeypatch.setattr(batch_memory, "available_memory", lambda device: 10 * per_cell)
    assert batch_memory.resolve_batch_size(None, view, frames, 100) == 5
    assert batch_memory.resolve_batch_size(3, view, frames, 100) == 3
