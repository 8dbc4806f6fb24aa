"""Task snapshots in Redis: one key per task, written in one transaction per round.

Key: `{prefix}:checkpoint:{group}:{task}` (task: "V3"). A round writes every snapshot
of a stage in one MULTI/EXEC, so a crash mid-round leaves the previous round whole.

A round is two steps so that the worker holds a stage only while its tasks are copied:
:meth:`Checkpoints.dump` (between micro-batches, CPU only) and :meth:`Checkpoints.write`
(network, while the stage goes on processing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fraud_warning.stages import snapshot
from fraud_warning.stages.tasks import Context, Task

# A failed write is retried by the next round (every few seconds) anyway, so the client
# gives up quickly: redis-py's default, 10 retries, kept a round (and, before writes left
# the stage lock, the stage itself) waiting for minutes on an unreachable Redis.
RETRIES = 1


class Checkpoints:
    def __init__(self, client: Any, prefix: str, group: str) -> None:
        self.client = client
        self.base = f"{prefix}:checkpoint:{group}:"
        self.written_bytes = 0
        set_retry = getattr(client, "set_retry", None)
        if set_retry is not None:  # a redis-py client (tests may pass a stand-in)
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry

            set_retry(Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES))

    def dump(self, tasks: Iterable[Task]) -> dict[str, bytes]:
        """The tasks' snapshots (with their positions), by task name, ready to write."""
        return {task.name: snapshot.dump(task) for task in tasks}

    def write(self, snapshots: dict[str, bytes]) -> int:
        """Write snapshots from :meth:`dump` atomically; returns bytes."""
        pipe = self.client.pipeline(transaction=True)
        size = 0
        for name, data in snapshots.items():
            size += len(data)
            pipe.set(self.base + name, data)
        pipe.execute()
        self.written_bytes += size
        return size

    def load(self, ctx: Context, name: str) -> Task | None:
        """The task saved under `name` ("N0"), or None when there is none."""
        data = self.client.get(self.base + name)
        if data is None:
            return None
        task, _ = snapshot.load(ctx, data)
        return task

    def clear(self) -> int:
        """Forget every snapshot of the group (a fresh start); returns how many."""
        keys = list(self.client.scan_iter(match=self.base + "*", count=1000))
        return int(self.client.delete(*keys)) if keys else 0


__all__ = ["Checkpoints"]
