"""Where an ablation study's units run: in this process (`LocalAblationExecutor`) or on a Ray
cluster (`RayAblationExecutor`, one `AblationWorker` per actor, the model sent once through
the object store). Both yield `(unit, rows)` as units finish."""

from __future__ import annotations

from collections.abc import Iterator

from hooked_audio.ablation_study.worker import AblationWorker
from hooked_audio.ray_cluster import OnRay


class LocalAblationExecutor:
    def start(self, model, *worker_args) -> None:
        self._worker = AblationWorker(model, *worker_args)

    def run(self, units: list[str]) -> Iterator[tuple[str, list[dict]]]:
        for unit in units:
            yield self._worker.run(unit)

    def stop(self) -> None:
        self._worker = None


class RayAblationExecutor(OnRay):
    """`address`, `workers`, `num_cpus`, `num_gpus`: as `hooked_audio.ray_cluster.RayActorPool`
    takes them."""

    def start(self, model, *worker_args) -> None:
        self.cluster.connect()
        self.cluster.start(AblationWorker, self.cluster.put(model), *worker_args)

    def run(self, units: list[str]) -> Iterator[tuple[str, list[dict]]]:
        yield from self.cluster.pool.map_unordered(
            lambda actor, unit: actor.run.remote(unit), units
        )

    def stop(self) -> None:
        self.cluster.stop()
