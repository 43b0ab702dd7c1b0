"""`run_ablation_study`: every site of the chosen components ablated in turn while the model
transcribes a clip set, each transcript scored (WER/CER against references, hallucination on
clips without speech, repetition), into one table; `hooked-audio ablate` and a notebook call
the same code. Like `run_study`: a cost line first, one progress bar, rows written to the
output folder as each unit finishes (a stopped study resumes there), and a Ray executor."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from hooked_audio.ablation_study.clips import TranscriptClip, check_clips
from hooked_audio.ablation_study.executors import LocalAblationExecutor
from hooked_audio.ablation_study.result import AblationResult
from hooked_audio.ablation_study.spec import AblationSpec
from hooked_audio.ablation_study.worker import BASELINE
from hooked_audio.metrics.transcripts import REFERENCE_METRICS
from hooked_audio.models.loading import model_family
from hooked_audio.study.store import StudyStore


def ablation_sites(family, spec: AblationSpec) -> list:
    """Every site of the spec's components at its layers, checked against the family."""
    offered = getattr(family, "ablation_components", ())
    missing = [c for c in spec.components if c not in offered]
    if missing:
        raise ValueError(
            f"{family.name} has no component {missing} to ablate; it offers {list(offered)}."
        )
    return [site for c in spec.components for site in family.ablation_sites(c, spec.layers)]


def run_ablation_study(
    model,
    clips: list[TranscriptClip],
    spec: AblationSpec | None = None,
    reference_clips: list[TranscriptClip] | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    out: Callable[[str], None] = print,
    model_name: str = "",
    executor=None,
) -> AblationResult:
    """Transcribe `clips` with nothing ablated (the baseline unit) and with each site of
    `spec.components` ablated in turn, and score every transcript.

    `reference_clips`: the clips whose activations a mean or resample ablation draws on
    (required for those; often the same clips). With `out_dir`, the rows go to
    `results.jsonl` as each unit finishes and a stopped study resumes there; `summary.csv`
    and `figures/ablation.png` are written at the end. `executor`: default this process; a
    `RayAblationExecutor` shares the units over a Ray cluster.
    """
    spec = spec or AblationSpec()
    check_clips(clips, spec.metric in REFERENCE_METRICS, spec.metric)
    family = model_family(model)
    sites = ablation_sites(family, spec)
    if spec.ablation != "zero" and not reference_clips:
        raise ValueError(
            f"A {spec.ablation} ablation needs reference clips (whose activations replace the "
            "ablated ones): pass reference_clips (--reference), or use the zero ablation."
        )
    store = StudyStore(out_dir, spec, model_name)
    store.open()
    units = [BASELINE, *(site.key for site in sites)]
    todo = [unit for unit in units if unit not in store.done]
    executor = executor or LocalAblationExecutor()
    executor.start(model, clips, spec, sites, reference_clips)
    try:
        if todo:
            out(_cost_line(family, sites, clips, todo))
        bar = tqdm(total=len(todo) * len(clips), disable=not progress, desc="ablation", unit="clip")
        timed = time.perf_counter()
        for index, (unit, rows) in enumerate(executor.run(todo)):
            store.add_unit(unit, rows)
            bar.update(len(rows))
            if index == 1 and len(todo) > 2:  # the first unit also computed what others reuse
                seconds = time.perf_counter() - timed
                out(
                    f"One unit took {seconds:.1f} s here: the other {len(todo) - 2} take about "
                    f"{seconds * (len(todo) - 2) / 60:.1f} min (longer where they ablate the "
                    "encoder, or where a hallucination loops to the length limit)."
                )
            timed = time.perf_counter()
        bar.close()
    finally:
        executor.stop()
    result = AblationResult.from_rows(store.rows, spec)
    if out_dir is not None:
        _write_outputs(Path(out_dir), result)
    return result


def _cost_line(family, sites, clips, todo) -> str:
    """What the study will run: how many transcriptions, and which reuse the encoder."""
    on_encoder = sum(site.hook_name.startswith("encoder.") for site in sites)
    done = len(sites) + 1 - len(todo)
    return (
        f"Ablation study on {family.name}: {len(clips)} clips x ({len(sites)} sites + the "
        f"baseline, nothing ablated){f', {done} units already done' if done else ''}: "
        f"{len(todo) * len(clips)} transcriptions to run. {len(sites) - on_encoder} of the "
        "sites leave the encoder alone, so their units reuse its outputs and run only the "
        "decoder."
    )


def _write_outputs(folder: Path, result: AblationResult) -> None:
    from hooked_audio.safe_files import write_text

    write_text(folder, "summary.csv", result.summary().to_csv())
    figure = result.plot()
    (folder / "figures").mkdir(exist_ok=True)
    figure.savefig(folder / "figures" / "ablation.png", dpi=120)
    import matplotlib.pyplot as plt

    plt.close(figure)
