"""Speed of HookedAudioEncoder against HF transformers' wav2vec2, measured in one process.

    python benchmarks/audio_encoder_benchmark.py [--hidden 768] [--layers 12] [--repeats 5]
        [--positions 6] [--sweep-rounds 2] [--out benchmarks/AUDIO_ENCODER_RESULTS.md]

A randomly initialised HF `Wav2Vec2ForCTC` (no hub access here) of wav2vec2-base's shape:
conv stack 7 x (2/3 of the width) with group norm, post-LN layers, heads of 64, MLP 4x the
width, vocab 32. The default, `--hidden 768 --layers 12`, is wav2vec2-base itself; a smaller
`--hidden` (e.g. 384: a quarter of the compute) keeps the split of the cost between the conv
stack and the transformer. Converted with `HookedAudioEncoder.from_hf`. Input: 5 s of deterministic
noise plus a sine at 16 kHz, trimmed to whole windows (249 positions); CPU, 2 threads.

- forward at batch 1 and 4: HF `hf(waveform).logits` vs `HookedAudioEncoder(waveform)`, and
  (batch 1) `run_with_cache` with and without attention patterns, each as a ratio of the HF
  forward; median of alternating rounds (half as many at batch 4). The logits must agree to 1e-4.
- sweep: resid_pre over every layer x `--positions` positions (evenly spread) on the framed
  stream view, `hooked_audio.patching.layer_sweep` vs TransformerLens's own
  `generic_activation_patch` loop (what `get_act_patch_resid_pre` runs) restricted to the
  same cells by its `index_df`, the two alternating for `--sweep-rounds` rounds (median).
  The cost of a cell depends only on its layer, so the ratio is the full sweep's. Both must
  agree to 1e-4.

Ratios carry across machines; absolute times on a shared 2-core machine do not.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from run_benchmarks import _no_patterns, time_rounds  # this folder is on sys.path as a script
from transformer_lens.patching import generic_activation_patch, layer_pos_patch_setter
from transformers import Wav2Vec2Config, Wav2Vec2ForCTC

from hooked_audio.models.audio_encoder import HookedAudioEncoder
from hooked_audio.patching import layer_sweep

SAMPLE_RATE = 16000
HOP, WINDOW = 320, 400
TOLERANCE = 1e-4
ANSWER, ALTERNATIVE = 5, 7  # the metric's two vocabulary entries


def build(n_layers: int, hidden: int) -> tuple[Wav2Vec2ForCTC, HookedAudioEncoder]:
    """wav2vec2-base's shape at width `hidden` (768: wav2vec2-base itself): conv stack of
    2/3 the width, MLP 4x, heads of 64."""
    config = Wav2Vec2Config(
        hidden_size=hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=hidden // 64,
        intermediate_size=4 * hidden,
        conv_dim=(2 * hidden // 3,) * 7,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
        vocab_size=32,
    )
    torch.manual_seed(0)
    hf = Wav2Vec2ForCTC(config).eval()
    return hf, HookedAudioEncoder.from_hf(hf)


def waveforms(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(clean, corrupt)` `[batch, samples]`: 5 s of noise plus a 220 Hz sine, trimmed to whole
    windows; corrupt has 1.0-1.5 s replaced by other noise."""
    n_pos = (5 * SAMPLE_RATE - WINDOW) // HOP + 1
    n_samples = n_pos * HOP + (WINDOW - HOP)
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(n_samples) / SAMPLE_RATE
    clean = 0.3 * torch.sin(2 * math.pi * 220 * t) + 0.1 * torch.randn(
        batch, n_samples, generator=gen
    )
    corrupt = clean.clone()
    span = slice(1 * SAMPLE_RATE, int(1.5 * SAMPLE_RATE))
    corrupt[:, span] = 0.3 * torch.randn(batch, span.stop - span.start, generator=gen)
    return clean, corrupt


def metric(logits: torch.Tensor) -> torch.Tensor:
    """Logit difference of two vocabulary entries, summed over positions (mean over batch)."""
    return (logits[..., ANSWER] - logits[..., ALTERNATIVE]).sum(-1).mean()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--positions", type=int, default=6)
    parser.add_argument("--sweep-rounds", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("AUDIO_ENCODER_RESULTS.md")
    )
    args = parser.parse_args()
    wall_start, cpu_start, load_start = time.perf_counter(), time.process_time(), os.getloadavg()
    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    hf, model = build(args.layers, args.hidden)
    n_params = sum(p.numel() for p in hf.parameters())

    # 1-2. forward and cache against HF's forward.
    forward, diffs = {}, {}
    for batch in (1, 4):
        clean = waveforms(batch)[0]
        diffs[batch] = (hf(clean).logits - model(clean)).abs().max().item()
        assert diffs[batch] < TOLERANCE, f"batch {batch}: logits differ by {diffs[batch]:.2e}"
        cases = {
            "HF forward": lambda: hf(clean).logits,
            "HookedAudioEncoder forward": lambda: model(clean),
        }
        if batch == 1:
            cases["run_with_cache (no patterns)"] = lambda: model.run_with_cache(
                clean, names_filter=_no_patterns
            )
            cases["run_with_cache (all hooks)"] = lambda: model.run_with_cache(clean)
        repeats = args.repeats if batch == 1 else max(2, args.repeats // 2)
        forward[batch] = time_rounds(cases, repeats, warmup=1)

    # 3. resid_pre sweep on the stream view: every layer x the same positions.
    clean, corrupt = waveforms(1)
    n_pos = model.n_positions(clean.shape[-1])
    view = model.encoder_stream()
    clean_frames, corrupt_frames = model.to_frames(clean), model.to_frames(corrupt)
    positions = np.linspace(0, n_pos - 1, args.positions).round().astype(int).tolist()
    index_df = pd.DataFrame(
        [(l, p) for l in range(model.cfg.n_layers) for p in positions], columns=["layer", "pos"]
    )
    n_cells = len(index_df)
    outputs = {}

    def stock_sweep() -> None:
        _, clean_cache = view.run_with_cache(
            clean_frames, names_filter=lambda n: n.endswith("hook_resid_pre")
        )
        outputs["stock"] = generic_activation_patch(
            view,
            corrupt_frames,
            clean_cache,
            metric,
            layer_pos_patch_setter,
            "resid_pre",
            index_df=index_df,
        )

    def fast_sweep() -> None:
        outputs["fast"] = layer_sweep(
            view, clean_frames, corrupt_frames, metric, cells=positions, progress=False
        ).values

    sweep = time_rounds(
        {"TransformerLens": stock_sweep, "layer_sweep": fast_sweep}, args.sweep_rounds, warmup=0
    )
    sweep_diff = (outputs["fast"].flatten() - outputs["stock"]).abs().max().item()
    assert sweep_diff < TOLERANCE, f"layer_sweep differs from TransformerLens by {sweep_diff:.2e}"
    spread = float(outputs["fast"].max() - outputs["fast"].min())

    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    load_end = os.getloadavg()
    defaults = {"hidden": 768, "layers": 12, "repeats": 5, "positions": 6, "sweep_rounds": 2}
    command = "python benchmarks/audio_encoder_benchmark.py" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name, default in defaults.items()
        if getattr(args, name) != default
    )
    shape = (
        "wav2vec2-base itself"
        if (args.hidden, args.layers) == (768, 12)
        else "wav2vec2-base's shape"
        + (" at half its width" if args.hidden == 384 else f" at width {args.hidden}")
        + ("" if args.layers == 12 else f" with {args.layers} layers")
    )
    hf_time = forward[1]["HF forward"]
    stock_time, fast_time = sweep["TransformerLens"], sweep["layer_sweep"]
    lines = [
        "# HookedAudioEncoder benchmarks",
        "",
        f"`{command}`: one process on CPU, {wall:.0f} s in all ({cpu:.0f} s of CPU time). "
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
        f"threads; torch {torch.__version__}, transformers {version('transformers')} (HF "
        f"attention: `{hf.config._attn_implementation}`), TransformerLens "
        f"{version('transformer-lens')}. The machine was shared: 1-minute load average "
        f"{load_start[0]:.1f} at the start and {load_end[0]:.1f} at the end, so absolute times "
        "are noisy (with other processes on the 2 cores, OpenMP threads oversubscribe and a "
        "forward can take 10x longer); the cases alternate round by round so that the load "
        "hits them alike.",
        "",
        f"Model: a randomly initialised HF `Wav2Vec2ForCTC` of {shape}: conv stack "
        f"{model.config.conv_dim[0]} x 7 with group norm, {args.layers} post-LN layers of width "
        f"{args.hidden}, {args.hidden // 64} heads, MLP {4 * args.hidden}, vocab 32, "
        f"{n_params / 1e6:.0f} M parameters, float32, converted with "
        "`HookedAudioEncoder.from_hf`. Input: 5 s of "
        "deterministic noise plus a 220 Hz sine at 16 kHz, trimmed to whole windows "
        f"({clean.shape[-1]} samples, {n_pos} positions). Median of {args.repeats} "
        f"alternating rounds after one warm-up ({max(2, args.repeats // 2)} at batch 4).",
        "",
        "| batch | case | seconds | ratio to HF forward |",
        "|---|---|---|---|",
    ]
    for batch, results in forward.items():
        lines += [
            f"| {batch} | {name} | {seconds:.3f} | {seconds / results['HF forward']:.2f} |"
            for name, seconds in results.items()
        ]
    lines += [
        "",
        "Max abs diff of the logits, HookedAudioEncoder vs HF: "
        + ", ".join(f"{diff:.1e} at batch {batch}" for batch, diff in diffs.items())
        + f" (asserted < {TOLERANCE:g}).",
        "",
        f"resid_pre sweep on the stream view (`model.encoder_stream()`, framed input): "
        f"{model.cfg.n_layers} layers x positions {positions} of {n_pos} ({n_cells} cells); "
        "corrupt = 1.0-1.5 s replaced by other noise, clean activations patched into the "
        f"corrupt run; metric = logit {ANSWER} minus logit {ALTERNATIVE} summed over positions "
        f"(the patched values span {spread:.2f}). Each sweep's time includes its cached "
        f"run(s); median of {args.sweep_rounds} alternating rounds:",
        "",
        "| sweep | seconds | per cell (s) | speed-up | max abs diff |",
        "|---|---|---|---|---|",
        f"| TransformerLens `generic_activation_patch` (clean cache + loop) | {stock_time:.1f} | "
        f"{stock_time / n_cells:.3f} | 1.00 | |",
        f"| `hooked_audio.patching.layer_sweep` | {fast_time:.1f} | {fast_time / n_cells:.3f} | "
        f"{stock_time / fast_time:.2f} | {sweep_diff:.1e} |",
        "",
        "TransformerLens's loop runs the whole view (conv stack included) for every cell, "
        f"{stock_time / n_cells / hf_time:.2f} HF forwards per cell here; `layer_sweep` runs the "
        "clean and corrupt inputs once with a cache and resumes each patched run at the patched "
        "layer, so the conv stack, the positional convolution and the layers before the "
        "patched one are never recomputed. The cost of a cell depends only on its layer, so "
        f"the ratio holds for a full sweep (all {model.cfg.n_layers} x {n_pos} cells: about "
        f"{stock_time / n_cells * model.cfg.n_layers * n_pos / 60:.0f} min with the loop, "
        f"{fast_time / n_cells * model.cfg.n_layers * n_pos / 60:.0f} min with `layer_sweep` "
        "here).",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
