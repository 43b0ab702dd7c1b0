"""Speed of HookedWhisper against openai-whisper, measured in one process on the same input.

    python benchmarks/run_benchmarks.py [--repeats 10] [--threads 1 2] [--out benchmarks/RESULTS.md]

CPU, the packaged real tiny.en, the bundled JFK clip in a 30 s window, teacher-forced on its
transcript, at each thread count in turn. Timings alternate between the two models round by
round (so drift in machine load hits both) and report the median. Ratios are what carry
across machines; absolute times on shared 2-core machines do not. The table records the
machine's load average before and after each thread count, so a reader can tell a quiet run
from one that shared its cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import torch
from tqdm import tqdm
from whisper.model import disable_sdpa

from hooked_audio import HookedWhisper, load_audio
from hooked_audio.models.whisper.loading.pretrained import resolve_checkpoint

# Issue 28: the plain forward within 5% of openai-whisper's; a full cache within 1.5x.
TARGETS = {"HookedWhisper forward": 1.05, "HookedWhisper run_with_cache (every hook)": 1.5}

TRANSCRIPT = (
    " And so my fellow Americans, ask not what your country can do for you,"
    " ask what you can do for your country."
)


def time_round_samples(
    cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Seconds of every call of each case, round by round; the cases alternate within every
    round, so sample `i` of two cases ran back to back under the same machine load."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in tqdm(range(repeats), desc="rounds", leave=False):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def time_rounds(
    cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median seconds per call of each case; the cases alternate within every round."""
    samples = time_round_samples(cases, repeats, warmup)
    return {name: statistics.median(values) for name, values in samples.items()}


def paired_ratio_quartiles(case: list[float], base: list[float]) -> tuple[float, float, float]:
    """Quartiles (25%, 50%, 75%) of the per-round ratios `case[i] / base[i]`: the spread says
    how much of a ratio's distance from 1 the machine's noise could explain."""
    q1, q2, q3 = statistics.quantiles([c / b for c, b in zip(case, base, strict=True)], n=4)
    return q1, q2, q3


def _no_patterns(name: str) -> bool:
    return not name.endswith(("hook_pattern", "hook_attn_scores"))


def _without_sdpa(reference, mel, tokens):
    with disable_sdpa():
        return reference(mel, tokens)


def measure(reference, model, mel1, tokens1, threads: int, repeats: int) -> list[tuple]:
    """Rows `(threads, batch, what, ms, ratio, (q1, q3) of the per-round ratios, target,
    verdict)` at the current thread count."""
    mel8, tokens8 = mel1.expand(8, -1, -1).contiguous(), tokens1.expand(8, -1).contiguous()
    rows = []
    for batch, mel, tokens, rounds in (
        (1, mel1, tokens1, repeats),
        (8, mel8, tokens8, max(3, repeats // 3)),
    ):
        cases = {
            "openai-whisper forward": lambda: reference(mel, tokens),
            "HookedWhisper forward": lambda: model(mel, tokens),
        }
        if batch == 1:
            cases["HookedWhisper run_with_cache (every hook)"] = lambda: model.run_with_cache(
                mel, tokens
            )
            cases["HookedWhisper run_with_cache (cache without scores/patterns)"] = lambda: (
                model.run_with_cache(mel, tokens, names_filter=_no_patterns)
            )
            cases["openai-whisper forward, SDPA off (materialised attention)"] = lambda: (
                _without_sdpa(reference, mel, tokens)
            )
        samples = time_round_samples(cases, rounds)
        base = samples["openai-whisper forward"]
        for name, values in samples.items():
            ratio = statistics.median(values) / statistics.median(base)
            q1, _, q3 = paired_ratio_quartiles(values, base)
            target = TARGETS.get(name)
            verdict = "" if target is None else ("met" if ratio <= target else "MISSED")
            rows.append(
                (
                    threads,
                    batch,
                    name,
                    statistics.median(values) * 1000,
                    ratio,
                    (q1, q3),
                    f"<= {target:.2f}x" if target else "",
                    verdict,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to measure"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    if any(n < 1 for n in args.threads):
        parser.error(f"--threads must be positive thread counts, got {args.threads}")
    torch.set_grad_enabled(False)

    ckpt = resolve_checkpoint("tiny.en")
    reference = ckpt.to_openai_whisper()
    model = HookedWhisper.from_openai_state_dict(ckpt.dims, ckpt.state_dict, ckpt.alignment_heads)
    mel1 = model.to_mel(load_audio(files("hooked_audio") / "data" / "jfk.flac"), sample_rate=16000)
    tokens1 = model.to_tokens(TRANSCRIPT)

    rows = []
    loads = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        load_before = os.getloadavg()[0]
        rows += measure(reference, model, mel1, tokens1, threads, args.repeats)
        loads.append((threads, load_before, os.getloadavg()[0]))

    _, cache = model.run_with_cache(mel1, tokens1)
    cache_mib = sum(t.numel() * t.element_size() for t in cache.values()) / 2**20
    lines = [
        "# Benchmark results",
        "",
        f"`python benchmarks/run_benchmarks.py --repeats {args.repeats} --threads "
        f"{' '.join(map(str, args.threads))}`: CPU "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores), "
        f"torch {torch.__version__}, real tiny.en, "
        "JFK clip padded to "
        f"the 30 s window (1500 encoder frames), teacher-forced on {tokens1.shape[1]} tokens. "
        "Median of alternating rounds; ratio = median time / median openai-whisper forward at "
        "the same batch size and thread count; the quartiles are of the ratio within each "
        "round (the two calls ran back to back).",
        "",
        "| threads | batch | what | ms per call | ratio | per-round ratios, 25-75% | target | |",
        "|---:|---:|---|---:|---:|---|---|---|",
        *[
            f"| {th} | {b} | {n} | {ms:.1f} | {r:.2f}x | {lo:.2f}-{hi:.2f}x | {t} | {v} |"
            for th, b, n, ms, r, (lo, hi), t, v in rows
        ],
        "",
        "Load average (1 min) of the machine before and after each thread count: "
        + "; ".join(f"{th} threads {a:.2f} -> {b:.2f}" for th, a, b in loads)
        + ". A load near or above the core count means the run shared its cores.",
        "",
        f"A full cache (batch 1) holds {len(cache)} activations, {cache_mib:.0f} MiB; "
        "the encoder's "
        "attention scores and patterns (heads x 1500 x 1500 per layer, twice) are most of it.",
        "",
        "Why the full-cache target (<= 1.5x) is missed on this CPU: caching every hook means "
        "materialising the encoder's attention scores and patterns, and the fused SDPA kernel "
        "that the plain forward (ours and openai-whisper's) uses never builds them. Building them "
        "is what openai-whisper itself costs with SDPA off (row above): the explicit "
        "`[1500 x 1500]` score matmul, softmax and pattern-value matmul per head and layer take "
        "about 3x the fused kernel here. A cache without `hook_attn_scores`/`hook_pattern` "
        "(e.g. `names_filter=lambda n: 'pattern' not in n and 'scores' not in n`) keeps the fused "
        "path; the `cache without scores/patterns` row measures it.",
        "",
    ]
    lines += other_targets(args.out.parent, args.out.name)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


def other_targets(folder: Path, own: str) -> list[str]:
    """Every target row of the other benchmarks' tables (`*_RESULTS.md` beside this one), as
    they measured it: one line per row with a met / MISSED verdict, so this page lists every
    target in one place."""
    out = ["## Targets measured by the other benchmarks (copied from their tables)", ""]
    for path in sorted(folder.glob("*RESULTS.md")):
        if path.name == own:
            continue
        for row in path.read_text().splitlines():
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            verdicts = [c for c in cells if re.search(r"\b(met|MISSED|NOT MEASURED)\b", c)]
            if row.startswith("|") and verdicts:
                out.append(f"- {path.name}: {' | '.join(cells[:3])}: {verdicts[0]}")
    return out + [""]


if __name__ == "__main__":
    main()
