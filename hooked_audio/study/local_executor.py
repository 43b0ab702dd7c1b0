"""Runs a study in this process: the default executor of `run_study`.

An executor takes a study's model and spec (`start`), plans its pairs (`plan`, results in the
pairs' order), runs its units (`run`, yielding `(unit key, rows)` as each finishes, in any
order) and lets go of what it holds (`stop`). `hooked_audio.study.ray_executor.RayExecutor`
is the other one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm

from hooked_audio.study.pair_plan import PairPlan
from hooked_audio.study.spec import StudySpec
from hooked_audio.study.units import StudyUnit, StudyWorker


class LocalExecutor:
    """`device`: where the units run (default: where the model is), e.g. `"cuda"`."""

    def __init__(self, device: str | None = None) -> None:
        self.device = device
        self._worker: StudyWorker | None = None

    def start(self, model, spec: StudySpec) -> None:
        self._worker = StudyWorker(model, spec, self.device)

    def plan(self, pairs: list) -> list[tuple[PairPlan | None, dict | None]]:
        return [self._worker.plan(pair) for pair in pairs]

    def run(
        self, work: Iterable[tuple[PairPlan, StudyUnit]], bar: tqdm
    ) -> Iterator[tuple[str, list[dict]]]:
        for plan, unit in work:
            yield unit.key, self._worker.run(plan, unit, bar)

    def stop(self) -> None:
        self._worker = None
