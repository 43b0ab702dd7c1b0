"""Fast causal maps against the exact map, in one process: how well each estimate agrees with
exact activation patching, what it costs, and what verification and adaptive refinement buy.

    python benchmarks/faithful_maps_benchmark.py [--models tiny.en base] [--pairs ...]
        [--out benchmarks/FAITHFUL_MAPS_RESULTS.md]

For each model and each bundled content pair (the word_contrast metric of `hooked-audio
study`, denoising: the corrupt clip patched with the clean clip's activations):
- the exact map: `layer_sweep` of `resid_pre` at every encoder layer x every speech frame;
- the estimates of the same map: plain attribution, AtP*'s QK fix, AtP*'s GradDrop (magnitudes,
  so compared with |exact effect|), integrated gradients on the layer path and on the input
  path with 4, 8 and 16 steps, and on the layer path with AtP*'s QK fix (8 steps); per layer,
  Pearson and Spearman against the exact map;
- verified mode: an estimate's top cells patched exactly (`verify_top_cells`), and how many of
  the exact map's top-10 and top-1% cells the verified map ranks in its own top-10 / top-1%;
- the adaptive exact map (`adaptive_resid_pre_map`, defaults): its runs against the full map's,
  its values against the full map's on the single frames it reports, and which of the exact
  top-10 cells it reports as single frames;
- the decoder: `resid_pre` at every decoder layer x token on the pair's clean audio, the clean
  transcript against the corrupt one (the changed word's token swapped), metric the mean
  log-probability of the clean transcript's tokens after the changed word;
- the same estimates at coarser cells (words, 100 ms windows), which is where they agree.

Costs are in forward-equivalents: a method's wall time over one plain forward of the same view
(median of 5), both measured in this process. Results go to a markdown table (`--out`) and a
figure of one pair's maps next to it.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from hooked_audio import HookedWhisper  # noqa: E402
from hooked_audio.models.whisper.word_contrast import word_contrast  # noqa: E402
from hooked_audio.pairs import bundled_pairs  # noqa: E402
from hooked_audio.patching import (  # noqa: E402
    adaptive_resid_pre_map,
    integrated_gradients,
    layer_sweep,
    resid_pre_attribution,
    resid_pre_attribution_graddrop,
    resid_pre_attribution_qk,
    verify_top_cells,
)
from hooked_audio.study.pair_cells import pair_cells  # noqa: E402

CONTENT_PAIRS = ["paris-berlin", "football-tennis", "car-bike"]
IG_STEPS = (4, 8, 16)
QK_IG_STEPS = 8
VERIFY_FROM = ("IG input k=4", "IG layer k=8", "AtP* GradDrop (magnitude)")
FIGURE_ESTIMATES = ("IG input k=4", "IG layer k=8")
VERIFY_K = (10, 20)
COARSE = ("words", "windows:0.1")
TARGET_PEARSON, TARGET_COST = 0.9, 0.05
TARGET_RECALL, TARGET_VERIFIED_COST = 0.9, 0.10
TARGET_ADAPTIVE = 5.0


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denominator) if denominator > 0 else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy())


def top_set(magnitudes: np.ndarray, n: int) -> set[int]:
    return set(np.argsort(-magnitudes.ravel(), kind="stable")[:n].tolist())


@dataclass
class Estimate:
    """An estimate of one exact map: its values, and what it cost."""

    values: np.ndarray  # [layer, cell], metric values (or magnitudes when `magnitude`)
    seconds: float
    magnitude: bool = False
    result: object = None  # the SweepResult, for verification


@dataclass
class MapBench:
    """One exact map and its estimates, for one model, pair and stream."""

    model: str
    pair: str
    stream: str
    cells: int
    base: float  # the metric on the base (corrupt) run
    clean: float  # ... and on the clean run
    exact: np.ndarray
    exact_seconds: float
    forward_seconds: float
    estimates: dict[str, Estimate] = field(default_factory=dict)

    def cost(self, seconds: float) -> float:
        return seconds / self.forward_seconds

    def agreement(self, name: str) -> pd.DataFrame:
        est = self.estimates[name]
        exact = np.abs(self.exact - self.base) if est.magnitude else self.exact
        return pd.DataFrame(
            {
                "layer": range(len(exact)),
                "pearson": [pearson(e, x) for e, x in zip(est.values, exact)],
                "spearman": [spearman(e, x) for e, x in zip(est.values, exact)],
            }
        )


def forward_seconds(view, clean) -> float:
    with torch.no_grad():
        view(clean)  # warm
        return float(np.median([timed(lambda: view(clean))[1] for _ in range(5)]))


def estimate_all(view, clean, corrupt, metric, cells, bench: MapBench, coarse: bool = False):
    """Every estimate of the map (`coarse`: only those the granularity table shows)."""
    args = (view, clean, corrupt, metric)
    methods = {}
    if not coarse:
        methods["plain AtP"] = lambda: resid_pre_attribution(*args, cells=cells)
        methods["AtP* QK fix"] = lambda: resid_pre_attribution_qk(*args, cells=cells)
        methods["AtP* GradDrop (magnitude)"] = lambda: resid_pre_attribution_graddrop(
            *args, cells=cells
        )
    for path in ("layer", "input"):
        for steps in (8,) if coarse else IG_STEPS:
            methods[f"IG {path} k={steps}"] = lambda path=path, steps=steps: integrated_gradients(
                *args, cells=cells, steps=steps, path=path, progress=False
            )
    if not coarse:
        methods[f"IG layer k={QK_IG_STEPS} + QK fix"] = lambda: integrated_gradients(
            *args, cells=cells, steps=QK_IG_STEPS, qk_fix=True, progress=False
        )
    for name, method in methods.items():
        result, seconds = timed(method)
        bench.estimates[name] = Estimate(
            result.values.numpy(), seconds, magnitude="magnitude" in name, result=result
        )


def exact_map(model_name, pair_id, stream, view, clean, corrupt, metric, cells) -> MapBench:
    exact, seconds = timed(
        lambda: layer_sweep(view, clean, corrupt, metric, "resid_pre", cells=cells, progress=False)
    )
    return MapBench(
        model_name,
        pair_id,
        stream,
        exact.values.shape[1],
        exact.corrupt_value,
        exact.clean_value,
        exact.values.numpy(),
        seconds,
        forward_seconds(view, clean),
    )


@dataclass
class Verified:
    model: str
    pair: str
    source: str
    k: int
    cost: float  # share of the exact map's cost
    recall_10: float
    recall_1pct: float


def verify(bench: MapBench, view, clean, corrupt, metric) -> list[Verified]:
    rows = []
    exact_mag = np.abs(bench.exact - bench.base)
    n_1pct = max(1, math.ceil(0.01 * exact_mag.size))
    for source in VERIFY_FROM:
        estimate = bench.estimates[source]
        for k in VERIFY_K:
            result, seconds = timed(
                lambda: verify_top_cells(
                    view, clean, corrupt, metric, estimate.result, top_k=k, progress=False
                )
            )
            # a magnitude estimate's unverified cells are NaN: argsort puts them last
            found = np.abs(result.values.numpy() - bench.base)
            rows.append(
                Verified(
                    bench.model,
                    bench.pair,
                    source,
                    k,
                    (estimate.seconds + seconds) / bench.exact_seconds,
                    len(top_set(found, 10) & top_set(exact_mag, 10)) / 10,
                    len(top_set(found, n_1pct) & top_set(exact_mag, n_1pct)) / n_1pct,
                )
            )
    return rows


@dataclass
class Adaptive:
    model: str
    pair: str
    runs: int
    full_runs: int
    speedup_runs: float
    speedup_time: float
    max_diff: float  # against the exact map on the single frames it reports
    frames_reported: int
    top10_reported: float  # share of the exact top-10 cells it reports as single frames


def adaptive(bench: MapBench, view, clean, corrupt, metric, positions) -> Adaptive:
    maps, seconds = timed(
        lambda: adaptive_resid_pre_map(
            view, clean, corrupt, metric, cells=positions, progress=False
        )
    )
    column = {p: i for i, p in enumerate(positions)}
    diffs, singles = [], set()
    for layer, result in enumerate(maps):
        for cell, value in zip(result.cells, result.values[0].tolist()):
            if len(cell) == 1:
                index = layer * len(positions) + column[cell[0]]
                singles.add(index)
                diffs.append(abs(value - bench.exact.ravel()[index]))
    runs = sum(r.metadata["exact_runs"] for r in maps)
    full = sum(r.metadata["full_runs"] for r in maps)
    top10 = top_set(np.abs(bench.exact - bench.base), 10)
    return Adaptive(
        bench.model,
        bench.pair,
        runs,
        full,
        full / runs,
        bench.exact_seconds / seconds,
        max(diffs, default=float("nan")),
        len(singles),
        len(top10 & singles) / 10,
    )


def decoder_pair(model, pair):
    """The pair's transcripts as decoder inputs on its clean audio, and the metric: the mean
    log-probability of the clean transcript's tokens after the changed word."""
    clean_tokens, corrupt_tokens = (
        model.to_tokens(pair.clean_text),
        model.to_tokens(pair.corrupt_text),
    )
    if clean_tokens.shape != corrupt_tokens.shape:
        return None
    changed = (clean_tokens != corrupt_tokens).nonzero()[:, 1]
    last = int(changed.max())
    targets = clean_tokens[0, last + 1 :]
    if len(targets) == 0:
        return None

    def metric(logits):
        logprobs = logits[:, last : last + len(targets)].log_softmax(-1)
        picked = logprobs.gather(-1, targets.expand(logits.shape[0], -1).unsqueeze(-1))
        return picked.mean()

    return clean_tokens, corrupt_tokens, metric


def run_model(
    model_name: str, pair_ids: list[str], stride: int, bar
) -> tuple[list, list, list, list]:
    model = HookedWhisper.from_pretrained(model_name)
    pairs = {p.id: p for p in bundled_pairs()}
    maps, verified, adaptives, coarse = [], [], [], []
    step = model.window_seconds / model.dims.n_audio_ctx
    for pair_id in pair_ids:
        pair = pairs[pair_id]
        contrast = word_contrast(model, pair)
        metric = contrast.metric()
        clean, corrupt = model.to_frames(pair.clean_audio), model.to_frames(pair.corrupt_audio)
        view = model.encoder_stream(contrast.tokens)
        cells = pair_cells(pair, "frames", model.dims.n_audio_ctx, step).cells[::stride]
        bar.set_postfix_str(f"{model_name} {pair_id} encoder")
        bench = exact_map(model_name, pair_id, "encoder", view, clean, corrupt, metric, cells)
        estimate_all(view, clean, corrupt, metric, cells, bench)
        maps.append(bench)
        verified += verify(bench, view, clean, corrupt, metric)
        adaptives.append(adaptive(bench, view, clean, corrupt, metric, [c[0] for c in cells]))
        for granularity in COARSE:
            coarse_cells = pair_cells(pair, granularity, model.dims.n_audio_ctx, step).cells
            c = exact_map(
                model_name, pair_id, granularity, view, clean, corrupt, metric, coarse_cells
            )
            estimate_all(view, clean, corrupt, metric, coarse_cells, c, coarse=True)
            coarse.append(c)
        decoder = decoder_pair(model, pair)
        if decoder is not None:
            bar.set_postfix_str(f"{model_name} {pair_id} decoder")
            clean_tokens, corrupt_tokens, dec_metric = decoder
            dec_view = model.decoder_stream(model.to_mel_input(clean))
            dec = exact_map(
                model_name,
                pair_id,
                "decoder",
                dec_view,
                clean_tokens,
                corrupt_tokens,
                dec_metric,
                None,
            )
            estimate_all(dec_view, clean_tokens, corrupt_tokens, dec_metric, None, dec)
            maps.append(dec)
        bar.update()
    return maps, verified, adaptives, coarse


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def mean_over_pairs(maps: list[MapBench], order=None):
    """Per model, stream and estimate (models and streams sorted by `order`): the pairs' maps,
    the per-layer agreement averaged over them, and the mean cost as a share of the exact
    map's."""
    for model, stream in sorted({(m.model, m.stream) for m in maps}, key=order):
        group = [m for m in maps if (m.model, m.stream) == (model, stream)]
        for name in group[0].estimates:
            mean = pd.concat([m.agreement(name) for m in group]).groupby("layer").mean()
            share = np.mean([m.estimates[name].seconds / m.exact_seconds for m in group])
            yield model, stream, name, group, mean, share


def agreement_table(maps: list[MapBench]) -> list[str]:
    lines = [
        "| model | stream | estimate | Pearson per layer (mean over pairs) | Spearman per layer "
        "| worst-layer Pearson | cost (fwd-eq) | cost / exact map | target |",
        "|---|---|---|---|---|---:|---:|---:|---|",
    ]
    encoder_first = lambda key: (key[0], key[1] != "encoder")  # noqa: E731
    for model, stream, name, group, mean, share in mean_over_pairs(maps, encoder_first):
        cost = np.mean([m.cost(m.estimates[name].seconds) for m in group])
        worst = mean["pearson"].min()
        target = (
            "(ranks only)"
            if "magnitude" in name
            else f"{met(worst >= TARGET_PEARSON and share <= TARGET_COST)} "
            f"(Pearson {worst:.2f} vs {TARGET_PEARSON}, cost {share:.1%} vs {TARGET_COST:.0%})"
        )
        lines.append(
            f"| {model} | {stream} | {name} | "
            + ", ".join(f"{v:.2f}" for v in mean["pearson"])
            + " | "
            + ", ".join(f"{v:.2f}" for v in mean["spearman"])
            + f" | {worst:.2f} | {cost:.0f} | {share:.1%} | {target} |"
        )
    return lines


def exact_cost_table(maps: list[MapBench]) -> list[str]:
    lines = [
        "| model | pair | stream | cells (layers x positions) | exact map (s) | forward (ms) "
        "| exact map (fwd-eq) | clean - corrupt metric gap |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in maps:
        layers = m.exact.shape[0]
        gap = m.clean - m.base
        lines.append(
            f"| {m.model} | {m.pair} | {m.stream} | {layers} x {m.exact.shape[1]} | "
            f"{m.exact_seconds:.1f} | {m.forward_seconds * 1000:.0f} | "
            f"{m.cost(m.exact_seconds):.0f} | {gap:.2f} |"
        )
    return lines


def verified_table(rows: list[Verified]) -> list[str]:
    frame = pd.DataFrame(rows).groupby(["model", "source", "k"], sort=False).mean(numeric_only=True)
    lines = [
        "| model | verified from | cells verified | top-10 recall | top-1% recall "
        "| cost / exact map | target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for (model, source, k), r in frame.iterrows():
        ok = r.recall_10 >= TARGET_RECALL and r.cost <= TARGET_VERIFIED_COST
        lines.append(
            f"| {model} | {source} | {k} | {r.recall_10:.0%} | {r.recall_1pct:.0%} | "
            f"{r.cost:.1%} | {met(ok)} (recall {r.recall_10:.0%} vs {TARGET_RECALL:.0%}, cost "
            f"{r.cost:.1%} vs {TARGET_VERIFIED_COST:.0%}) |"
        )
    return lines


def adaptive_table(rows: list[Adaptive]) -> list[str]:
    lines = [
        "| model | pair | runs | full map runs | fewer runs | faster (wall) | max diff on its "
        "single frames | single frames | exact top-10 among them | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.pair} | {r.runs} | {r.full_runs} | {r.speedup_runs:.1f}x | "
            f"{r.speedup_time:.1f}x | {r.max_diff:.1e} | {r.frames_reported} | "
            f"{r.top10_reported:.0%} | {met(r.speedup_runs >= TARGET_ADAPTIVE)} "
            f"({r.speedup_runs:.1f}x vs {TARGET_ADAPTIVE:.0f}x) |"
        )
    return lines


def coarse_table(maps: list[MapBench]) -> list[str]:
    lines = [
        "| model | cells | estimate | Pearson per layer (mean over pairs) | cost / exact map |",
        "|---|---|---|---|---:|",
    ]
    for model, stream, name, group, mean, share in mean_over_pairs(maps):
        lines.append(
            f"| {model} | {stream} (~{np.mean([m.cells for m in group]):.0f} per layer) | "
            f"{name} | " + ", ".join(f"{v:.2f}" for v in mean["pearson"]) + f" | {share:.0%} |"
        )
    return lines


def figure(bench: MapBench, path: Path) -> None:
    """The exact map next to two IG estimates, normalised by the clean - corrupt gap."""
    names = list(FIGURE_ESTIMATES)
    gap = bench.clean - bench.base
    panels = [("exact", bench.exact)] + [(n, bench.estimates[n].values) for n in names]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.2 * len(panels)), sharex=True)
    for ax, (title, values) in zip(axes, panels):
        image = ax.imshow(
            (values - bench.base) / gap,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-1,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_title(f"{bench.model} {bench.pair}: {title}", fontsize=9)
        ax.set_ylabel("encoder layer")
        fig.colorbar(image, ax=ax, label="recovery")
    axes[-1].set_xlabel("speech frame (20 ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--pairs", nargs="+", default=CONTENT_PAIRS)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("FAITHFUL_MAPS_RESULTS.md")
    )
    parser.add_argument(
        "--frame-stride",
        type=int,
        default=1,
        help="every Nth speech frame only (a quick look; the table is for 1)",
    )
    args = parser.parse_args()
    if args.frame_stride < 1:
        parser.error("--frame-stride must be >= 1")
    unknown = sorted(set(args.pairs) - {p.id for p in bundled_pairs()})
    if unknown:
        parser.error(f"unknown bundled pairs {unknown}")
    args.out.parent.mkdir(parents=True, exist_ok=True)  # before the work, not after it
    torch.set_grad_enabled(False)
    maps, verified, adaptives, coarse = [], [], [], []
    bar = tqdm(total=len(args.models) * len(args.pairs), desc="pairs")
    for model_name in args.models:
        found = run_model(model_name, args.pairs, args.frame_stride, bar)
        for store, new in zip((maps, verified, adaptives, coarse), found):
            store += new
    bar.close()
    figure_path = args.out.with_suffix(".png")
    figure(maps[0], figure_path)
    command = (
        "python benchmarks/faithful_maps_benchmark.py --models "
        + " ".join(args.models)
        + " --pairs "
        + " ".join(args.pairs)
        + (f" --frame-stride {args.frame_stride}" if args.frame_stride > 1 else "")
    )
    lines = [
        "# Faithful fast maps: estimates against exact patching",
        "",
        f"`{command}`: CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, one "
        "process. Encoder `resid_pre` at every layer x every speech frame of each bundled "
        "content pair (denoising, the word_contrast metric); decoder `resid_pre` at every layer "
        "x token (clean vs corrupt transcript on the clean audio). Costs in forward-equivalents "
        "(wall time / one plain forward of the same view, measured here).",
        "",
        "## The exact maps",
        "",
        *exact_cost_table(maps),
        "",
        "## Estimates against the exact map (frames)",
        "",
        f"Target: signed Pearson >= {TARGET_PEARSON} on every layer at <= {TARGET_COST:.0%} of "
        "the exact map's cost. GradDrop estimates magnitudes, so it is compared with |exact "
        "effect| and has no signed target.",
        "",
        *agreement_table(maps),
        "",
        "## Verified mode",
        "",
        f"The estimate's top-k cells patched exactly; recall: the share of the exact map's "
        f"top-10 (top-1%) cells by |effect| that the verified map ranks in its top-10 (top-1%). "
        f"Target: >= {TARGET_RECALL:.0%} of the top-10 at <= {TARGET_VERIFIED_COST:.0%} of the "
        "cost. Mean over pairs.",
        "",
        *verified_table(verified),
        "",
        "## Adaptive exact map",
        "",
        f"Windows of 16 frames, split while their effect is >= 5% of the total. Target: >= "
        f"{TARGET_ADAPTIVE:.0f}x fewer runs than the full map, identical values on its cells.",
        "",
        *adaptive_table(adaptives),
        "",
        "## Coarser cells",
        "",
        "The same estimates where a cell is a word or a 100 ms window (encoder, all layers).",
        "",
        *coarse_table(coarse),
        "",
        f"![maps]({figure_path.name})",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
