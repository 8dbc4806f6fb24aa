"""Task snapshots in Redis: one key per task, written in one transaction per round.

Key: `{prefix}:checkpoint:{group}:{task}` (task: "V3"). A round writes every snapshot
of a stage in one MULTI/EXEC, so a crash mid-round leaves the previous round whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fraud_warning.stages import snapshot
from fraud_warning.stages.tasks import Context, Task


class Checkpoints:
    def __init__(self, client: Any, prefix: str, group: str) -> None:
        self.client = client
        self.base = f"{prefix}:checkpoint:{group}:"
        self.written_bytes = 0

    def save(self, tasks: Iterable[Task]) -> int:
        """Write the tasks' snapshots (with their positions) atomically; returns bytes."""
        pipe = self.client.pipeline(transaction=True)
        size = 0
        for task in tasks:
            data = snapshot.dump(task)
            size += len(data)
            pipe.set(self.base + task.name, data)
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
