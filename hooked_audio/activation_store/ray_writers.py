"""The activation store on a Ray cluster: clips shared out over workers that each hold the
source (the model loaded once per worker) and write their clips' files into the store's
folder, which every worker must see (a local cluster, or a shared filesystem); the process
that called `write_activations` lists each clip as it finishes, so a stopped store resumes
the same way as a local one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hooked_audio.activation_store.clip_files import write_clips
from hooked_audio.ray_cluster import OnRay


class _StoreWorker:
    def __init__(self, source):
        self.source = source

    def write(self, clips, hooks, root, batch_size, padding) -> list[dict]:
        lines: list[dict] = []
        write_clips(self.source, clips, hooks, Path(root), batch_size, padding, lines.append)
        return lines


class RayStoreWriters(OnRay):
    """`address`, `workers`, `num_cpus`, `num_gpus`: as for `hooked_audio.ray_cluster.
    RayActorPool`. Each task is `batch_size` clips, so a worker batches their windows as the
    local writer does."""

    def write(
        self,
        source,
        clips: list,
        hooks: list[str],
        root: Path,
        batch_size: int,
        padding: bool,
        finished: Callable[[dict], None],
    ) -> None:
        cluster = self.cluster
        cluster.connect()
        try:
            cluster.start(_StoreWorker, cluster.put(source))
            tasks = [clips[i : i + batch_size] for i in range(0, len(clips), batch_size)]

            def submit(actor, task):
                return actor.write.remote(task, hooks, str(root), batch_size, padding)

            for lines in cluster.pool.map_unordered(submit, tasks):
                for line in lines:
                    finished(line)
        finally:
            cluster.stop()
