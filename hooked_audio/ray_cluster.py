"""A pool of Ray actors on a local cluster this process starts, or on an existing one it joins;
what the study's `RayExecutor` and the activation store's `RayStoreWriters` share.

`address="local"` starts a local cluster (of `workers * num_cpus` CPUs, or every CPU of this
machine) and shuts it down at `stop`; any other address (`"auto"`, `"host:6379"`,
`"ray://host:10001"`) joins that cluster and leaves it running. `workers`: how many actors
(default: as many as the cluster's CPUs allow at `num_cpus` each); `num_gpus`: GPUs per actor.
Needs the `ray` extra (`pip install -e '.[ray]'`)."""

from __future__ import annotations

import logging

from hooked_audio.checks import check_count

LOCAL = "local"


def import_ray():
    try:
        import ray
    except ImportError as error:  # an optional extra
        raise ImportError(
            "Running on Ray needs Ray: pip install -e '.[ray]' (the ray extra)."
        ) from error
    return ray


class RayActorPool:
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
        self.device = "cuda" if num_gpus else "cpu"  # Ray shows each actor its own GPUs
        self._started_cluster = False
        self._actors: list = []
        self.pool = None

    def start(self, actor_class, *args) -> None:
        """`workers` actors of `actor_class(*args)` (an `ObjectRef` among `args` reaches each
        actor as its value: large objects cross to the object store once), in `self.pool`
        (Ray's `ActorPool`)."""
        ray = import_ray()
        from ray.util import ActorPool

        self.connect()
        cpus = ray.cluster_resources().get("CPU", 0)
        available = int(cpus) // self.num_cpus
        if available < 1:
            raise RuntimeError(f"The Ray cluster has {cpus} CPUs; a worker needs {self.num_cpus}.")
        n = self.workers or available
        if n > available:
            raise ValueError(
                f"workers={n} x num_cpus={self.num_cpus} needs {n * self.num_cpus} CPUs; the "
                f"Ray cluster has {available * self.num_cpus}."
            )
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(actor_class)
        self._actors = [remote.remote(*args) for _ in range(n)]
        self.pool = ActorPool(self._actors)

    def connect(self) -> None:
        """Start the local cluster, or join the one at `address` (nothing if Ray is already
        initialised in this process)."""
        ray = import_ray()
        if ray.is_initialized():
            return
        options = dict(logging_level=logging.WARNING, include_dashboard=False)
        if self.address == LOCAL:
            cpus = None if self.workers is None else self.workers * self.num_cpus
            ray.init(num_cpus=cpus, **options)
        else:
            ray.init(address=self.address, **options)
        self._started_cluster = True

    def put(self, value):
        """`value` in the object store (after `connect`)."""
        return import_ray().put(value)

    def stop(self) -> None:
        ray = import_ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors, self.pool = [], None
        if self._started_cluster:
            ray.shutdown()
            self._started_cluster = False


class OnRay:
    """Base of what runs its work on a `RayActorPool` (the study's `RayExecutor`, the
    activation store's `RayStoreWriters`): the pool's options, checked before any cluster
    starts."""

    def __init__(
        self,
        address: str = LOCAL,
        workers: int | None = None,
        num_cpus: int = 1,
        num_gpus: float = 0,
    ):
        self.cluster = RayActorPool(address, workers, num_cpus, num_gpus)
