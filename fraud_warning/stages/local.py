"""The stages run in one process, with in-memory queues for topics.

Used to prove the split (any partition counts, any interleaving of upstream partitions:
the same alerts as the embedded engine) and by the tests; the Faust worker runs the
same tasks with Kafka topics in between.
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from fraud_warning.alerting import Output
from fraud_warning.decode import Decoded
from fraud_warning.kafka.topics import Partitioner, input_key
from fraud_warning.stages.fanout import by_partition
from fraud_warning.stages.records import Record
from fraud_warning.stages.tasks import (
    NUMBER,
    STAGES,
    TASKS,
    Context,
    NumberTask,
    Send,
    Task,
)

END = sys.float_info.max  # after every event; finite, so it survives JSON


class LocalPipeline:
    """Every stage's tasks in one process; `rng` shuffles how records are delivered."""

    def __init__(self, ctx: Context, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self.rng = rng
        self.tasks: dict[str, list[Task]] = {
            stage: [TASKS[stage](ctx, p) for p in range(ctx.partitions[stage])] for stage in STAGES
        }
        # per destination task, per upstream task: a FIFO (a partition keeps each
        # producer's order, nothing more)
        self.queues: dict[tuple[str, int], dict[str, deque[Record]]] = defaultdict(
            lambda: defaultdict(deque)
        )
        self.out = Output()
        self._partition_of = {stage: Partitioner(ctx.partitions[stage]) for stage in STAGES}

    def partition(self, stage: str, key: str) -> int:
        return self._partition_of[stage](key)

    def ingest(self, events: Sequence[Decoded], batch: int = 512) -> None:
        """Route input events to the number stage's partitions, in micro-batches."""
        n = self.ctx.partitions[NUMBER]
        per: list[list[Decoded]] = [[] for _ in range(n)]
        for item in events:
            per[self.partition(NUMBER, str(input_key(item.event)))].append(item)
        cursor = [0] * n
        live = [p for p in range(n) if per[p]]
        while live:
            # any interleaving of the partitions; each partition's batches in order
            p = self.rng.choice(live) if self.rng is not None else live[0]
            i = cursor[p]
            cursor[p] = i + batch
            if cursor[p] >= len(per[p]):
                live.remove(p)
            task = self.tasks[NUMBER][p]
            assert isinstance(task, NumberTask)
            self._route(task.name, task.events(per[p][i : i + batch], self.out, f"in{p}"))
            self.drain()

    def finish(self) -> Output:
        """End of input: every number partition promises nothing more; run to quiet."""
        for task in self.tasks[NUMBER]:
            assert isinstance(task, NumberTask)
            self._route(task.name, task.advance(END))
        self.drain()
        return self.out

    def _route(self, origin: str, sends: Iterable[Send]) -> None:
        for dest, records in by_partition(sends, self._partition_of, self.ctx.partitions).items():
            self.queues[dest][origin].extend(records)

    def drain(self) -> None:
        """Deliver queued records until nothing moves (shuffled when `rng` is set)."""
        while True:
            busy = [
                (dest, src) for dest, q in self.queues.items() for src, fifo in q.items() if fifo
            ]
            if not busy:
                return
            if self.rng is None:
                for d, src in busy:
                    self._deliver(d, src, len(self.queues[d][src]))
            else:
                dest, src = self.rng.choice(busy)
                size = len(self.queues[dest][src])
                self._deliver(dest, src, self.rng.randint(1, size))

    def _deliver(self, dest: tuple[str, int], src: str, count: int) -> None:
        fifo = self.queues[dest][src]
        records = [fifo.popleft() for _ in range(count)]
        task: Any = self.tasks[dest[0]][dest[1]]
        task.feed(records, source=src)
        self._route(task.name, task.step(self.out))


__all__ = ["LocalPipeline"]
