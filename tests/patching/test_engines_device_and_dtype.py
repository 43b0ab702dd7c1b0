"""Every patching engine keeps its tensors on the model's device and in the model's dtype,
checked without a GPU.

- Device: each engine runs with `torch.device("meta")` as the default device while the model
  and its inputs stay on the CPU. A tensor the engine makes without `device=` (the bug that
  breaks an engine on CUDA, where it would be made on the CPU and meet CUDA activations)
  lands on `meta` here: where it meets the model's tensors the run fails ("Tensor on device
  meta is not on the expected device cpu"), and where it reaches the result the values are
  not the plain run's CPU numbers. Results must come back on the CPU, equal to the plain run.
- Dtype: each engine on the same weights in float64 agrees with float32 (to 1e-4: the model's
  LayerNorms compute in float32, as openai-whisper's do), and in bfloat16 runs and stays
  near it. A constant made in float32 that meets float64 or bfloat16 activations in a matmul
  or an in-place op fails there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from hooked_audio import HookedWhisper, mel_to_frames
from hooked_audio.patching import (
    Sender,
    SweepResult,
    adaptive_map,
    direct_path,
    direct_path_head_sweep,
    feature_sweep,
    head_integrated_gradients,
    head_sweep,
    integrated_gradients,
    layer_sweep,
    resid_pre_attribution,
    resid_pre_attribution_graddrop,
    resid_pre_attribution_qk,
    verify_top_cells,
    verify_top_head_cells,
)
from hooked_audio.sae import add_sae
from tests.helpers.device_checks import tensors_made_on
from tests.helpers.whisper_models import random_dims, random_reference

DIMS = random_dims(n_audio_ctx=6, n_text_ctx=12)
TOKENS = torch.tensor([[50257, 50362, 11, 12, 13]])
CORRUPT_TOKENS = torch.tensor([[50257, 50362, 11, 99, 13]])
GROUPS = [[0, 1], [2, 3, 4], [5]]
SAE_HOOK = "encoder.blocks.0.hook_resid_post"


def logit_diff(logits: Tensor) -> Tensor:
    return (logits[:, -1, 7] - logits[:, -1, 8]).mean()


class TinySAE(nn.Module):
    """An SAE with SAELens's interface (`encode`, `decode`, `cfg.d_in`), random weights."""

    def __init__(self, d_in: int, d_sae: int, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.cfg = SimpleNamespace(d_in=d_in, d_sae=d_sae)
        self.W_enc = nn.Parameter(torch.randn(d_in, d_sae, generator=gen) / d_in**0.5)
        self.W_dec = nn.Parameter(torch.randn(d_sae, d_in, generator=gen) / d_sae**0.5)
        self.b_enc = nn.Parameter(torch.zeros(d_sae))

    def encode(self, x: Tensor) -> Tensor:
        return torch.relu(x @ self.W_enc + self.b_enc)

    def decode(self, acts: Tensor) -> Tensor:
        return acts @ self.W_dec


@dataclass
class Setup:
    """A tiny random Whisper in one dtype, its views and inputs (in the model's dtype)."""

    model: HookedWhisper
    sae_model: HookedWhisper  # the same weights with an SAE spliced in (error term on)
    clean: Tensor  # encoder frames
    corrupt: Tensor
    clean_mel: Tensor

    def encoder(self) -> Any:
        return self.model.encoder_stream(TOKENS)

    def decoder(self) -> Any:
        return self.model.decoder_stream(self.clean_mel)


def make_setup(dtype: torch.dtype) -> Setup:
    weights = random_reference(DIMS, seed=8, std=0.3).state_dict()
    model = HookedWhisper.from_openai_state_dict(DIMS, weights).to(dtype)
    sae_model = HookedWhisper.from_openai_state_dict(DIMS, weights).to(dtype)
    add_sae(sae_model, TinySAE(DIMS.n_audio_state, 16).to(dtype), SAE_HOOK, use_error_term=True)
    gen = torch.Generator().manual_seed(9)
    clean_mel = torch.randn(1, 80, 12, generator=gen)
    corrupt_mel = clean_mel + 2.0 * torch.randn(1, 80, 12, generator=gen)
    return Setup(
        model,
        sae_model,
        mel_to_frames(clean_mel).to(dtype),
        mel_to_frames(corrupt_mel).to(dtype),
        clean_mel.to(dtype),
    )


def _encoder_heads(s: Setup) -> tuple[Any, Any]:
    view = s.encoder()
    _, source_cache = view.run_with_cache(s.clean)
    return view, source_cache


def _head_sweep(s: Setup) -> SweepResult:
    view, source_cache = _encoder_heads(s)
    return head_sweep(
        view, s.corrupt, source_cache, logit_diff, positions=GROUPS, batch_size=4, progress=False
    )


def _cross_head_sweep(s: Setup) -> SweepResult:
    view = s.decoder()
    _, source_cache = view.run_with_cache(TOKENS)
    return head_sweep(view, CORRUPT_TOKENS, source_cache, logit_diff, by_pos=True, progress=False)


def _head_ig(s: Setup) -> SweepResult:
    view, source_cache = _encoder_heads(s)
    return head_integrated_gradients(
        view, s.corrupt, source_cache, logit_diff, positions=GROUPS, steps=3, progress=False
    )


def _verified_heads(s: Setup) -> SweepResult:
    view, source_cache = _encoder_heads(s)
    estimate = _head_ig(s)
    return verify_top_head_cells(
        view,
        s.corrupt,
        source_cache,
        logit_diff,
        estimate,
        positions=GROUPS,
        top_k=4,
        progress=False,
    )


def _verified(s: Setup) -> SweepResult:
    estimate = resid_pre_attribution(s.encoder(), s.clean, s.corrupt, logit_diff)
    return verify_top_cells(
        s.encoder(),
        s.clean,
        s.corrupt,
        logit_diff,
        estimate,
        top_k=4,
        batch_size=3,
        progress=False,
    )


def _feature_sweep(s: Setup) -> SweepResult:
    view = s.sae_model.encoder_stream(TOKENS)
    return feature_sweep(
        view,
        s.clean,
        s.corrupt,
        logit_diff,
        "blocks.0.hook_resid_post",
        features=3,
        cells=GROUPS,
        progress=False,
    )


def _ig(stream: str, **kwargs: Any) -> Callable[[Setup], SweepResult]:
    def run(s: Setup) -> SweepResult:
        view, clean, corrupt = (
            (s.encoder(), s.clean, s.corrupt)
            if stream == "encoder"
            else (s.decoder(), TOKENS, CORRUPT_TOKENS)
        )
        return integrated_gradients(
            view, clean, corrupt, logit_diff, steps=3, progress=False, **kwargs
        )

    return run


#: engine name -> a run of it on a setup (the cheapest arguments that still go through the
#: engine's every tensor-making step: several cells per forward, groups, masks, both stacks)
ENGINES: dict[str, Callable[[Setup], Any]] = {
    "layer_sweep": lambda s: layer_sweep(
        s.encoder(), s.clean, s.corrupt, logit_diff, cells=GROUPS, batch_size=2, progress=False
    ),
    "layer_sweep_decoder_attn_out": lambda s: layer_sweep(
        s.decoder(), TOKENS, CORRUPT_TOKENS, logit_diff, act="attn_out", progress=False
    ),
    "head_sweep": _head_sweep,
    "head_sweep_cross_attention": _cross_head_sweep,
    "direct_path_positions": lambda s: direct_path(
        s.encoder(), s.clean, s.corrupt, logit_diff, Sender(0, "attn", 1), 2, positions=[1, 3]
    ),
    "direct_path_head_sweep": lambda s: direct_path_head_sweep(
        s.encoder(), s.clean, s.corrupt, logit_diff, receiver_layer=2, batch_size=3
    ),
    "feature_sweep": _feature_sweep,
    "resid_pre_attribution": lambda s: resid_pre_attribution(
        s.encoder(), s.clean, s.corrupt, logit_diff, cells=GROUPS
    ),
    "resid_pre_attribution_qk": lambda s: resid_pre_attribution_qk(
        s.encoder(), s.clean, s.corrupt, logit_diff, cells=GROUPS
    ),
    "resid_pre_attribution_qk_decoder": lambda s: resid_pre_attribution_qk(
        s.decoder(), TOKENS, CORRUPT_TOKENS, logit_diff
    ),
    "resid_pre_attribution_graddrop": lambda s: resid_pre_attribution_graddrop(
        s.encoder(), s.clean, s.corrupt, logit_diff
    ),
    "integrated_gradients": _ig("encoder", cells=GROUPS, batch_size=2),
    "integrated_gradients_input_path": _ig("encoder", path="input", act="mlp_out"),
    "integrated_gradients_qk_fix": _ig("encoder", qk_fix=True),
    "integrated_gradients_qk_fix_decoder": _ig("decoder", qk_fix=True),
    "head_integrated_gradients": _head_ig,
    "adaptive_map": lambda s: adaptive_map(
        s.encoder(), s.clean, s.corrupt, logit_diff, window=4, threshold=0.05, progress=False
    ),
    "adaptive_map_heads": lambda s: adaptive_map(
        s.encoder(),
        s.clean,
        s.corrupt,
        logit_diff,
        act="attn_out",
        window=6,
        min_size=3,
        heads=True,
        threshold=0.0,
        progress=False,
    ),
    "verify_top_cells": _verified,
    "verify_top_head_cells": _verified_heads,
}


def result_tensors(found: Any) -> list[Tensor]:
    """Every value tensor of an engine's result(s), nested head results included."""
    results = found if isinstance(found, list) else [found]
    out = []
    for result in results:
        assert isinstance(result, SweepResult)
        out.append(result.values)
        if result.exact is not None:
            out.append(result.exact)
        heads = result.metadata.get("heads")
        if isinstance(heads, SweepResult):
            out.append(heads.values)
    return out


@pytest.fixture(scope="module")
def setups() -> Iterator[dict[torch.dtype, Setup]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # models this small only lose time to a second thread
    try:
        yield {dtype: make_setup(dtype) for dtype in (torch.float32, torch.float64, torch.bfloat16)}
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def float32_results(setups: dict[torch.dtype, Setup]) -> dict[str, list[Tensor]]:
    return {name: result_tensors(run(setups[torch.float32])) for name, run in ENGINES.items()}


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_makes_no_tensor_off_the_models_device(engine, setups, float32_results):
    """With `meta` as the default device, the engine still runs on the CPU model and returns
    the plain run's values, on the CPU."""
    with tensors_made_on("meta"):
        found = result_tensors(ENGINES[engine](setups[torch.float32]))
    expected = float32_results[engine]
    assert len(found) == len(expected)
    for got, want in zip(found, expected):
        assert got.device.type == "cpu", f"{engine}: result on {got.device}, not the CPU"
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_in_float64_and_bfloat16_agrees_with_float32(engine, setups, float32_results):
    """The same weights in float64 give the float32 values (to float32 precision: the model's
    LayerNorms and attention scores compute in float32, as openai-whisper's do); in bfloat16
    the engine runs and its values stay within 10% of the float32 map's largest value."""
    expected = float32_results[engine]
    in_float64 = result_tensors(ENGINES[engine](setups[torch.float64]))
    in_bfloat16 = result_tensors(ENGINES[engine](setups[torch.bfloat16]))
    assert len(in_float64) == len(in_bfloat16) == len(expected)
    for got, want in zip(in_float64, expected):
        assert got.device.type == "cpu"
        torch.testing.assert_close(
            got, want, rtol=1e-4, atol=1e-4, equal_nan=True, check_dtype=False
        )
    # The values only: bfloat16 may rank other cells first (which a verified map's `exact` marks)
    got, want = in_bfloat16[0].float(), expected[0].float()
    assert got.device.type == "cpu"
    assert torch.equal(got.isnan(), want.isnan())
    scale = want.nan_to_num().abs().max().clamp(min=1.0)
    assert ((got - want).nan_to_num().abs() <= 0.1 * scale).all(), (got, want)
