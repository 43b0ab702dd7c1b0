"""A study's throughput in one process and on a local Ray cluster, its memory as pairs grow, and
what half precision costs in accuracy; one script, one results table.

    python benchmarks/scale_benchmark.py [--pairs 6] [--workers 2] [--memory-pairs 10 100]
        [--out benchmarks/SCALE_RESULTS.md]

- Throughput: `run_study` on tiny.en over `--pairs` content pairs (the bundled ones, repeated
  under new ids), words, every encoder layer, denoising; once with the local executor and
  once on a local Ray cluster of `--workers` CPUs (cluster start-up and model loading
  included, as a user pays them). Cells per second, pairs per minute, and the ratio.
- A projection to N workers from the measured numbers: each Ray worker's measured rate (cells
  per second), times N.
- Peak memory: the same study at `--memory-pairs` sizes (one layer), each in a fresh process
  (`ru_maxrss`), so the second number shows whether memory grows with the pairs.
- Precision: one pair's word map on tiny.en in float16 and bfloat16 against float32 (largest
  difference, raw and normalised).
- CUDA, only where `torch.cuda.is_available()` (the table says "not measured" otherwise):
  tiny.en's encoder `resid_pre` sweep over every layer x the speech frames of a bundled pair
  on the GPU, the fast engine with `batch_size=None` (cells per forward from the free memory)
  against TransformerLens's `generic_activation_patch` in the same process, same cells
  (target >= 10x).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from hooked_audio import HookedWhisper
from hooked_audio.models.whisper.word_contrast import word_contrast  # noqa: E402
from hooked_audio.pairs import bundled_pairs
from hooked_audio.patching import layer_sweep
from hooked_audio.study import StudySpec, run_study
from hooked_audio.study.pair_cells import pair_cells

CONTENT_PAIRS = ("car-bike", "football-tennis", "paris-berlin")


def many_pairs(n: int) -> list:
    """`n` content pairs: the bundled ones in turn, each copy under its own id."""
    bundled = [p for p in bundled_pairs() if p.id in CONTENT_PAIRS]
    return [
        dataclasses.replace(bundled[i % len(bundled)], id=f"{bundled[i % len(bundled)].id}-{i}")
        for i in range(n)
    ]


def timed_study(model, pairs, spec, executor=None) -> tuple[float, int]:
    start = time.perf_counter()
    result = run_study(model, pairs, spec, progress=False, out=lambda line: None, executor=executor)
    return time.perf_counter() - start, len(result.rows)


def throughput(model, n_pairs: int, workers: int) -> list[dict]:
    from hooked_audio.study.ray_executor import RayExecutor

    pairs = many_pairs(n_pairs)
    spec = StudySpec(directions=("denoise",), granularity="words", layer_chunk=1)
    rows = []
    for name, executor in (
        ("one process", None),
        (f"local Ray cluster, {workers} workers", RayExecutor(workers=workers)),
    ):
        seconds, cells = timed_study(model, pairs, spec, executor)
        rows.append(
            {
                "executor": name,
                "seconds": seconds,
                "cells": cells,
                "cells_per_s": cells / seconds,
                "pairs_per_min": 60 * len(pairs) / seconds,
            }
        )
    return rows


def memory_child(n_pairs: int) -> None:
    """Run in a fresh process: a one-layer study of `n_pairs` pairs; print peak RSS (MiB)."""
    model = HookedWhisper.from_pretrained("tiny.en")
    spec = StudySpec(directions=("denoise",), layers=(3,), granularity="words")
    run_study(model, many_pairs(n_pairs), spec, progress=False, out=lambda line: None)
    print(
        json.dumps(
            {
                "pairs": n_pairs,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def peak_memory(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows


def precision(model) -> list[dict]:
    pair = next(p for p in bundled_pairs() if p.id == "paris-berlin")
    contrast = word_contrast(model, pair)
    cells = pair_cells(pair, "words", model.dims.n_audio_ctx, 0.02).cells
    rows = []
    reference = None
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        typed = HookedWhisper.from_pretrained("tiny.en", dtype=dtype)
        frames = [typed.to_frames(a) for a in (pair.clean_audio, pair.corrupt_audio)]
        start = time.perf_counter()
        result = layer_sweep(
            typed.encoder_stream(contrast.tokens),
            *frames,
            contrast.metric(),
            "resid_pre",
            cells=cells,
            progress=False,
        )
        seconds = time.perf_counter() - start
        reference = reference or result
        gap = reference.clean_value - reference.corrupt_value
        rows.append(
            {
                "dtype": str(dtype).removeprefix("torch."),
                "max_abs_diff": float((result.values - reference.values).abs().max()),
                "max_normalised_diff": float(
                    (result.normalised() - reference.normalised()).abs().max()
                ),
                "gap": gap,
                "seconds": seconds,
            }
        )
    return rows


def cuda_sweep(device: str = "cuda", max_positions: int | None = None) -> dict | None:
    """The fast engine against TransformerLens's loop on the GPU, or None without one.
    (`device="cpu"` and a few positions run the same code here, to check it.)"""
    if device == "cuda" and not torch.cuda.is_available():
        return None
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    import pandas as pd
    from transformer_lens.patching import generic_activation_patch, layer_pos_patch_setter

    from hooked_audio.patching.batch_memory import auto_batch_size
    from hooked_audio.patching.time_cells import speech_frames

    model = HookedWhisper.from_pretrained("tiny.en", device=device)
    pair = next(p for p in bundled_pairs() if p.id == "paris-berlin")
    contrast = word_contrast(model, pair)
    metric = contrast.metric()
    view = model.encoder_stream(contrast.tokens)
    clean, corrupt = model.to_frames(pair.clean_audio), model.to_frames(pair.corrupt_audio)
    positions = speech_frames(len(pair.clean_audio) / 16000, model.dims.n_audio_ctx)
    positions = positions[:max_positions]
    layers = range(model.dims.n_audio_layer)
    index_df = pd.DataFrame([(l, p) for l in layers for p in positions], columns=["layer", "pos"])
    with torch.no_grad():
        _, clean_cache = view.run_with_cache(clean, names_filter=lambda n: n.endswith("resid_pre"))

    def timed(fn):
        sync()
        start = time.perf_counter()
        with torch.no_grad():
            out = fn()
        sync()
        return out, time.perf_counter() - start

    stock, stock_s = timed(
        lambda: generic_activation_patch(
            view,
            corrupt,
            clean_cache,
            metric,
            layer_pos_patch_setter,
            "resid_pre",
            index_df=index_df,
        )
    )
    fast, fast_s = timed(
        lambda: layer_sweep(view, clean, corrupt, metric, cells=positions, progress=False)
    )
    return {
        "cells": len(index_df),
        "batch": auto_batch_size(view, clean, len(positions)),
        "stock_s": stock_s,
        "fast_s": fast_s,
        "max_diff": float((fast.values.flatten().cpu() - stock.cpu()).abs().max()),
        "device": torch.cuda.get_device_name() if device == "cuda" else device,
    }


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def cuda_lines(found: dict | None) -> list[str]:
    if found is None:
        return [
            "not measured: no GPU on this machine (the batched-cells path is tested on the CPU "
            "with batch > 1, tests/patching/test_batch_memory.py)."
        ]
    ratio = found["stock_s"] / found["fast_s"]
    return table(
        [
            "GPU",
            "cells",
            "cells / forward",
            "TransformerLens (s)",
            "fast (s)",
            "ratio",
            "max diff",
            "target",
        ],
        [
            [
                found["device"],
                found["cells"],
                found["batch"],
                f"{found['stock_s']:.2f}",
                f"{found['fast_s']:.2f}",
                f"{ratio:.1f}x",
                f"{found['max_diff']:.1e}",
                "met" if ratio >= 10 else f"MISSED ({ratio:.1f}x vs 10x)",
            ]
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-pairs", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("SCALE_RESULTS.md"))
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    if args.pairs < 1 or args.workers < 1 or min(args.memory_pairs) < 1:
        parser.error("--pairs, --workers and --memory-pairs must be >= 1")
    model = HookedWhisper.from_pretrained("tiny.en")
    speeds = throughput(model, args.pairs, args.workers)
    memory = peak_memory(args.memory_pairs)
    precisions = precision(model)
    local, on_ray = speeds
    per_worker = on_ray["cells_per_s"] / args.workers
    cells_per_pair = on_ray["cells"] / args.pairs
    command = (
        f"python benchmarks/scale_benchmark.py --pairs {args.pairs} --workers {args.workers} "
        f"--memory-pairs {' '.join(map(str, args.memory_pairs))}"
    )
    growth = memory[-1]["peak_mib"] / memory[0]["peak_mib"]
    lines = [
        "# Scale: studies in one process and on Ray, memory, precision",
        "",
        f"`{command}`: CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        "tiny.en, the bundled content pairs repeated under new ids.",
        "",
        "## Throughput",
        "",
        f"A study of {args.pairs} pairs (words, every encoder layer, denoising, one layer per "
        "unit); wall time includes the Ray cluster's start and each worker's model load.",
        "",
        *table(
            ["executor", "wall (s)", "cells", "cells / s", "pairs / min"],
            [
                [
                    r["executor"],
                    f"{r['seconds']:.1f}",
                    r["cells"],
                    f"{r['cells_per_s']:.2f}",
                    f"{r['pairs_per_min']:.1f}",
                ]
                for r in speeds
            ],
        ),
        "",
        f"Ray / one process wall time: {on_ray['seconds'] / local['seconds']:.2f}x. Both ran on "
        f"the same {args.workers} CPUs: {args.workers} one-thread Ray workers against one "
        f"process with {torch.get_num_threads()} threads, so this ratio is what running on "
        "Ray costs or saves here, start-up and model loading included.",
        "",
        f"Projection to N workers: each Ray worker here did {per_worker:.2f} cells/s "
        f"({on_ray['cells_per_s']:.2f} cells/s over {args.workers} workers), so N such "
        f"workers give about N x {per_worker:.2f} cells/s, i.e. "
        f"{60 * per_worker / cells_per_pair:.2f} pairs/min per worker at this design, while "
        "units outnumber workers. A GPU worker replaces the per-worker rate with its own "
        "(see CUDA below).",
        "",
        "## Peak memory as pairs grow",
        "",
        "One-layer study (layer 3, words, denoising), each size in a fresh process.",
        "",
        *table(["pairs", "peak RSS (MiB)"], [[m["pairs"], f"{m['peak_mib']:.0f}"] for m in memory]),
        "",
        f"{memory[-1]['pairs']} pairs / {memory[0]['pairs']} pairs: {growth:.2f}x the peak "
        f"memory ({'flat: met' if growth < 1.25 else 'grows: MISSED'}, target: flat).",
        "",
        "## Precision",
        "",
        "paris-berlin, every tiny.en layer x word, the model loaded in each precision (CPU).",
        "",
        *table(
            [
                "dtype",
                "max abs(value - float32)",
                "max abs(normalised - float32)",
                "metric gap",
                "s",
            ],
            [
                [
                    p["dtype"],
                    f"{p['max_abs_diff']:.4f}",
                    f"{p['max_normalised_diff']:.4f}",
                    f"{p['gap']:.2f}",
                    f"{p['seconds']:.1f}",
                ]
                for p in precisions
            ],
        ),
        "",
        "## CUDA",
        "",
        *cuda_lines(cuda_sweep()),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
