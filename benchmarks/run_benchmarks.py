"""Speed of HookedWhisper against openai-whisper, measured in one process on the same input.

    python benchmarks/run_benchmarks.py [--repeats 10] [--out benchmarks/RESULTS.md]

CPU, the packaged real tiny.en, the bundled JFK clip in a 30 s window, teacher-forced on its
transcript. Timings alternate between the two models round by round (so drift in machine
load hits both) and report the median. Ratios are what carry across machines; absolute
times on shared 2-core machines do not.
"""

from __future__ import annotations

import argparse
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

TRANSCRIPT = (
    " And so my fellow Americans, ask not what your country can do for you,"
    " ask what you can do for your country."
)


def time_rounds(
    cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median seconds per call of each case; the cases alternate within every round."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in tqdm(range(repeats), desc="rounds", leave=False):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def _no_patterns(name: str) -> bool:
    return not name.endswith(("hook_pattern", "hook_attn_scores"))


def _without_sdpa(reference, mel, tokens):
    with disable_sdpa():
        return reference(mel, tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    ckpt = resolve_checkpoint("tiny.en")
    reference = ckpt.to_openai_whisper()
    model = HookedWhisper.from_openai_state_dict(ckpt.dims, ckpt.state_dict, ckpt.alignment_heads)
    mel1 = model.to_mel(load_audio(files("hooked_audio") / "data" / "jfk.flac"), sample_rate=16000)
    tokens1 = model.to_tokens(TRANSCRIPT)
    mel8, tokens8 = mel1.expand(8, -1, -1).contiguous(), tokens1.expand(8, -1).contiguous()

    rows = []
    for batch, mel, tokens, repeats in (
        (1, mel1, tokens1, args.repeats),
        (8, mel8, tokens8, max(3, args.repeats // 3)),
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
        times = time_rounds(cases, repeats)
        base = times["openai-whisper forward"]
        targets = {"HookedWhisper forward": 1.10, "HookedWhisper run_with_cache (every hook)": 1.5}
        for name, seconds in times.items():
            ratio = seconds / base
            target = targets.get(name)
            verdict = "" if target is None else ("met" if ratio <= target else "MISSED")
            rows.append(
                (batch, name, seconds * 1000, ratio, f"<= {target:.2f}x" if target else "", verdict)
            )

    _, cache = model.run_with_cache(mel1, tokens1)
    cache_mib = sum(t.numel() * t.element_size() for t in cache.values()) / 2**20
    lines = [
        "# Benchmark results",
        "",
        f"`python benchmarks/run_benchmarks.py --repeats {args.repeats}`: CPU "
        f"({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), torch {torch.__version__}, real tiny.en, "
        "JFK clip padded to "
        f"the 30 s window (1500 encoder frames), teacher-forced on {tokens1.shape[1]} tokens. "
        "Median of alternating rounds; ratio = time / openai-whisper forward at the same "
        "batch size.",
        "",
        "| batch | what | ms per call | ratio | target | |",
        "|---:|---|---:|---:|---|---|",
        *[f"| {b} | {n} | {ms:.1f} | {r:.2f}x | {t} | {v} |" for b, n, ms, r, t, v in rows],
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
