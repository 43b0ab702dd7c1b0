"""Every engine once on a GPU and once on the CPU, compared; and the batched-cells sweep against
TransformerLens's own patching loop on the GPU.

    python benchmarks/gpu_smoke.py [--layers 4] [--cells 12] [--tolerance 1e-3]
        [--out benchmarks/GPU_SMOKE_RESULTS.md]

On the real tiny.en and the bundled pair "paris-berlin" (encoder view, the pair's logit
difference, `--layers` first encoder layers x `--cells` of the clip's speech frames), each of:
layer, head, direct-path (path patching), feature (an SAE spliced in) sweeps; attribution
plain, with AtP*'s QK fix and GradDrop; integrated gradients plain and with the QK fix; per-head
integrated gradients; the adaptive map; verified top cells; `run_study` on the pair; the
activation store written from the pair's clips; and a position sweep on a small random
Qwen2-Audio (no real audio-LM checkpoint is bundled). Each runs on the CPU and on `--device`,
and the table gives the largest difference of their values (pass: within `--tolerance` times
the larger of 1 and the CPU values' largest magnitude), and both times. cuDNN's TF32
convolutions are switched off so that the two devices compute the same thing. SAE training
(`train_sae`, when SAELens is installed) runs on the device only: training on two devices
diverges by design, so it is checked for finite weights, not compared.

Then `layer_sweep` (cells batched per forward from the free memory) against TransformerLens's
`generic_activation_patch` over every layer x the speech frames of the pair, on the device
(`scale_benchmark.cuda_sweep`; target >= 10x).

Without a CUDA device the script says so and exits with status 2: it reports nothing it did
not measure. `--device cpu` is a dry run (the CPU against itself) that checks the script end to
end on a machine without a GPU; it writes its table only to an `--out` given explicitly.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from scale_benchmark import cuda_sweep  # this folder is on sys.path when run as a script
from torch import Tensor, nn

from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.word_contrast import word_contrast
from hooked_audio.pairs import bundled_pairs
from hooked_audio.patching import (
    adaptive_map,
    direct_path_head_sweep,
    feature_sweep,
    head_integrated_gradients,
    head_sweep,
    integrated_gradients,
    layer_sweep,
    position_sweep,
    resid_pre_attribution,
    resid_pre_attribution_graddrop,
    resid_pre_attribution_qk,
    verify_top_cells,
)
from hooked_audio.patching.time_cells import speech_frames
from hooked_audio.sae import add_sae

DEFAULT_OUT = Path(__file__).with_name("GPU_SMOKE_RESULTS.md")
SAE_HOOK = "encoder.blocks.1.hook_resid_post"


class RandomSAE(nn.Module):
    """A seeded random SAE with SAELens's interface, for the feature sweep (which needs only
    the splice to be exact, not a trained dictionary)."""

    def __init__(self, d_in: int, d_sae: int):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.cfg = SimpleNamespace(d_in=d_in, d_sae=d_sae)
        self.W_enc = nn.Parameter(torch.randn(d_in, d_sae, generator=gen) / d_in**0.5)
        self.W_dec = nn.Parameter(torch.randn(d_sae, d_in, generator=gen) / d_sae**0.5)

    def encode(self, x: Tensor) -> Tensor:
        return torch.relu(x @ self.W_enc)

    def decode(self, acts: Tensor) -> Tensor:
        return acts @ self.W_dec


def values_of(found: Any) -> list[Tensor]:
    """An engine's numbers as CPU float64 tensors (a result, a list of them, a study's rows, a
    store's array)."""
    if isinstance(found, list):
        return [t for item in found for t in values_of(item)]
    if isinstance(found, Tensor):
        return [found.detach().cpu().double()]
    if hasattr(found, "values") and isinstance(found.values, Tensor):  # a SweepResult
        return [found.values.detach().cpu().double()]
    raise TypeError(f"No values to compare in a {type(found).__name__}.")


def whisper_engines(device: str, layers: list[int], n_cells: int) -> dict[str, Callable]:
    """Each engine as a function of nothing, on tiny.en on `device`."""
    model = HookedWhisper.from_pretrained("tiny.en", device=device)
    sae_model = HookedWhisper.from_pretrained("tiny.en", device=device)
    add_sae(sae_model, RandomSAE(model.dims.n_audio_state, 64), SAE_HOOK, use_error_term=True)
    pair = next(p for p in bundled_pairs() if p.id == "paris-berlin")
    contrast = word_contrast(model, pair)
    metric = contrast.metric()
    view = model.encoder_stream(contrast.tokens)
    clean, corrupt = model.to_frames(pair.clean_audio), model.to_frames(pair.corrupt_audio)
    frames = speech_frames(len(pair.clean_audio) / 16000, model.dims.n_audio_ctx)
    step = max(1, len(frames) // n_cells)
    cells = frames[::step][:n_cells]
    windows = [frames[i : i + step] for i in range(0, len(frames), step)][:n_cells]
    last = max(layers)

    def source_cache() -> Any:
        with torch.no_grad():
            return view.run_with_cache(clean)[1]

    def estimate() -> Any:
        return resid_pre_attribution(view, clean, corrupt, metric, layers=layers, cells=cells)

    def study() -> Tensor:
        from hooked_audio.study import StudySpec, run_study

        spec = StudySpec(layers=tuple(layers), directions=("denoise",), require_heard=False)
        found = run_study(model, [pair], spec, progress=False, out=lambda _: None)
        return torch.tensor(found.rows["value"].to_numpy())

    def store() -> Tensor:
        from hooked_audio.activation_store import ActivationStore, clips_from_pairs
        from hooked_audio.activation_store import write_activations as write
        from hooked_audio.models.whisper.activation_source import WhisperEncoderSource

        hook = f"encoder.blocks.{last}.hook_resid_post"
        with tempfile.TemporaryDirectory() as folder:
            source = WhisperEncoderSource(model, "tiny.en")
            written = write(source, clips_from_pairs([pair]), [hook], folder, progress=False)
            return torch.from_numpy(ActivationStore(written).array(hook))

    sweep_args = dict(layers=layers, cells=cells, progress=False)
    return {
        "layer_sweep (resid_pre, encoder)": lambda: layer_sweep(
            view, clean, corrupt, metric, **sweep_args
        ),
        "head_sweep (encoder attn z, word windows)": lambda: head_sweep(
            view, corrupt, source_cache(), metric, layers=layers, positions=windows, progress=False
        ),
        "direct_path_head_sweep (path patching)": lambda: direct_path_head_sweep(
            view, clean, corrupt, metric, receiver_layer=last + 1
        ),
        "feature_sweep (random SAE, error term)": lambda: feature_sweep(
            sae_model.encoder_stream(contrast.tokens),
            clean,
            corrupt,
            metric,
            SAE_HOOK.removeprefix("encoder."),
            features=4,
            cells=windows,
            progress=False,
        ),
        "resid_pre_attribution": estimate,
        "resid_pre_attribution_qk (QK fix)": lambda: resid_pre_attribution_qk(
            view, clean, corrupt, metric, layers=layers, cells=cells
        ),
        "resid_pre_attribution_graddrop": lambda: resid_pre_attribution_graddrop(
            view, clean, corrupt, metric, layers=layers, cells=cells
        ),
        "integrated_gradients (layer path)": lambda: integrated_gradients(
            view, clean, corrupt, metric, steps=4, **sweep_args
        ),
        "integrated_gradients (QK fix)": lambda: integrated_gradients(
            view, clean, corrupt, metric, steps=4, qk_fix=True, **sweep_args
        ),
        "head_integrated_gradients": lambda: head_integrated_gradients(
            view,
            corrupt,
            source_cache(),
            metric,
            layers=layers,
            positions=windows,
            steps=4,
            progress=False,
        ),
        "adaptive_map": lambda: adaptive_map(
            view, clean, corrupt, metric, cells=cells, layers=layers, window=4, progress=False
        ),
        "verify_top_cells": lambda: verify_top_cells(
            view, clean, corrupt, metric, estimate(), top_k=4, progress=False
        ),
        "run_study (paris-berlin, words)": study,
        "activation store (write + read)": store,
    }


def audio_lm_engines(device: str) -> dict[str, Callable]:
    """`position_sweep` on a small random Qwen2-Audio (seeded), on `device`."""
    try:
        from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration
    except ImportError:
        return {}
    from hooked_audio.models.audio_lm import HookedAudioLM

    audio_token = 100
    config = Qwen2AudioConfig(
        audio_config=dict(
            d_model=64,
            encoder_layers=2,
            encoder_attention_heads=4,
            encoder_ffn_dim=128,
            num_mel_bins=16,
            max_source_positions=40,
        ),
        text_config=dict(
            model_type="qwen2",
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            vocab_size=120,
        ),
        audio_token_index=audio_token,
    )
    torch.manual_seed(0)
    model = HookedAudioLM.from_hf(Qwen2AudioForConditionalGeneration(config).eval()).to(device)

    def inputs(seed: int) -> dict[str, Tensor]:
        gen = torch.Generator().manual_seed(seed)
        ids = torch.cat(
            [
                torch.randint(0, audio_token, (2,), generator=gen),
                torch.full((20,), audio_token),
                torch.randint(0, audio_token, (5,), generator=gen),
            ]
        )[None]
        found = dict(
            input_ids=ids,
            input_features=torch.randn(1, 16, 80, generator=gen),
            attention_mask=torch.ones_like(ids),
            feature_attention_mask=torch.ones(1, 80, dtype=torch.long),
        )
        return {name: value.to(device) for name, value in found.items()}

    clean, corrupt = inputs(1), inputs(2)
    cells = [[p] for p in range(2, 22, 4)] + [[22, 23, 24]]

    return {
        "position_sweep (random Qwen2-Audio)": lambda: position_sweep(
            model,
            clean,
            corrupt,
            lambda logits: logits[:, -1, 5].mean() - logits[:, -1, 6].mean(),
            cells,
            [str(c) for c in cells],
            progress=False,
        )
    }


def timed(device: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def compare(
    name: str, cpu: tuple[Any, float], other: tuple[Any, float], tolerance: float
) -> list[str]:
    expected, found = values_of(cpu[0]), values_of(other[0])
    shapes = [tuple(t.shape) for t in expected] == [tuple(t.shape) for t in found]
    diff, scale = math.inf, 1.0
    if shapes:
        both = [(e, f) for e, f in zip(expected, found) if e.numel()]
        diff = max(
            [float((e - f).abs().nan_to_num(posinf=math.inf).max()) for e, f in both] or [0.0]
        )
        nans_agree = all(torch.equal(e.isnan(), f.isnan()) for e, f in zip(expected, found))
        diff = diff if nans_agree else math.inf
        scale = max([1.0] + [float(e.nan_to_num().abs().max()) for e, _ in both])
    ok = diff <= tolerance * scale
    verdict = "pass" if ok else ("FAIL (shapes differ)" if not shapes else "FAIL")
    return [
        name,
        f"{diff:.1e}",
        f"{tolerance * scale:.1e}",
        verdict,
        f"{cpu[1]:.2f}",
        f"{other[1]:.2f}",
    ]


def sae_training_row(device: str) -> list[str]:
    """`train_sae` on the device (finite weights), or why it did not run."""
    try:
        import sae_lens  # noqa: F401
    except ImportError:
        return [
            "train_sae (SAELens)",
            "-",
            "-",
            "not run: SAELens not installed (pip install -e '.[sae]')",
            "-",
            "-",
        ]
    from hooked_audio.activation_store import clips_from_pairs
    from hooked_audio.models.whisper.activation_source import WhisperEncoderSource
    from hooked_audio.sae import ActivationBatches, train_sae

    model = HookedWhisper.from_pretrained("tiny.en", device=device)
    batches = ActivationBatches.from_clips(
        WhisperEncoderSource(model, "tiny.en"),
        clips_from_pairs(bundled_pairs()[:2]),
        SAE_HOOK,
        batch_size=64,
        buffer_rows=512,
    )
    sae, seconds = timed(
        device,
        lambda: train_sae(batches, SAE_HOOK, d_sae=128, training_samples=256, device=device),
    )
    finite = all(bool(p.isfinite().all()) for p in sae.parameters())
    verdict = "pass (finite weights)" if finite else "FAIL (non-finite weights)"
    return ["train_sae (SAELens, device only)", "-", "-", verdict, "-", f"{seconds:.2f}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device to check against the CPU")
    parser.add_argument("--layers", type=int, default=4, help="first encoder layers patched")
    parser.add_argument("--cells", type=int, default=12, help="speech frames patched per layer")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument(
        "--out", type=Path, default=None, help=f"the results table (default {DEFAULT_OUT.name})"
    )
    args = parser.parse_args()
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "gpu_smoke: no CUDA device on this machine (torch.cuda.is_available() is False), "
            "so nothing was measured. Run it on a machine with a GPU, or use --device cpu for a "
            "dry run of the script itself.",
            file=sys.stderr,
        )
        return 2
    dry_run = not device.startswith("cuda")
    if dry_run and args.out is None:
        print(
            f"gpu_smoke: --device {device} is a dry run; its table goes only to an explicit --out."
        )
    out = args.out if args.out is not None or dry_run else DEFAULT_OUT
    torch.backends.cudnn.allow_tf32 = False  # the same convolutions on both devices
    torch.backends.cuda.matmul.allow_tf32 = False
    layers = list(range(args.layers))

    runs: dict[str, dict[str, tuple[Any, float]]] = {}
    for label, where in (("cpu", "cpu"), ("device", device)):  # a dry run: the CPU twice
        engines = whisper_engines(where, layers, args.cells) | audio_lm_engines(where)
        for name, fn in engines.items():
            print(f"{where}: {name}", flush=True)
            runs.setdefault(name, {})[label] = timed(where, fn)
    rows = [compare(name, r["cpu"], r["device"], args.tolerance) for name, r in runs.items()]
    rows.append(sae_training_row(device))

    print("TransformerLens loop vs layer_sweep on the device ...", flush=True)
    speed = cuda_sweep(device, max_positions=args.cells if dry_run else None)
    assert speed is not None  # cuda_sweep returns None only without CUDA, refused above
    ratio = speed["stock_s"] / speed["fast_s"]
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else device
    failed = [row[0] for row in rows if row[3].startswith("FAIL")]
    not_run = [row[0] for row in rows if row[3].startswith("not run")]
    lines = [
        "# GPU smoke test: every engine on the GPU against the CPU",
        "",
        f"`python benchmarks/gpu_smoke.py --device {device} --layers {args.layers} --cells "
        f"{args.cells}`: {name}, torch {torch.__version__}, real tiny.en, bundled pair "
        f"paris-berlin, encoder layers 0-{args.layers - 1}, {args.cells} cells; TF32 off.",
        "",
        "| engine | max abs diff CPU vs device | allowed | result | CPU (s) | device (s) |",
        "|---|---:|---:|---|---:|---:|",
        *["| " + " | ".join(row) + " |" for row in rows],
        "",
        "## Batched cells vs TransformerLens's loop on the device",
        "",
        "| device | cells | cells / forward | TransformerLens (s) | layer_sweep (s) | speed-up "
        "| max diff | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| {speed['device']} | {speed['cells']} | {speed['batch']} | {speed['stock_s']:.2f} | "
        f"{speed['fast_s']:.2f} | {ratio:.1f}x | {speed['max_diff']:.1e} | >= 10x "
        f"({'met' if ratio >= 10 else 'MISSED'}) |",
        "",
        f"{sum(row[3].startswith('pass') for row in rows)} of {len(rows)} rows pass"
        + (f"; not run: {', '.join(not_run)}" if not_run else "")
        + (f"; failing: {', '.join(failed)}." if failed else "."),
        "",
    ]
    print("\n".join(lines))
    if out is not None:
        out.write_text("\n".join(lines))
        print(f"written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
