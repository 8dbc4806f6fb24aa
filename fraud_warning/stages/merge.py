"""Watermark merge: records from several upstream partitions, released in one order.

A stage task must not process a record while an upstream partition may still send an
earlier one: features would then depend on arrival timing. Each upstream partition
sends marks ("nothing earlier than t from me"); records wait in a heap and leave in
canonical order once they are earlier than the least mark over all upstream partitions.

Live traffic has idle partitions (a trickle of events over many partitions), and an
upstream partition that sends nothing would hold everything back. With `idle_s` set, a
partition silent for that long (wall clock) stops counting until it sends again, and
when every partition is silent what waits is released. A record that then arrives
earlier than what was released is processed at once: order is exact while upstream
partitions keep talking (a replay's marks see to that), best effort when they do not.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable

from fraud_warning.stages.records import Ordered, order_key


class Merger:
    def __init__(self, sources: Iterable[str], idle_s: float | None = None) -> None:
        self.marks = dict.fromkeys(sources, float("-inf"))
        if not self.marks:
            raise ValueError("a merge needs at least one upstream partition")
        self.idle_s = idle_s
        self.heard = dict.fromkeys(self.marks, 0.0)  # wall time a partition last sent
        self.bound = float("-inf")  # everything earlier has been released
        self._heap: list[tuple[tuple[float, str, int], int, Ordered]] = []
        self._tie = itertools.count()  # equal keys (a flag broadcast twice) keep arrival order

    def push(self, record: Ordered) -> None:
        heapq.heappush(self._heap, (order_key(record), next(self._tie), record))

    def mark(self, source: str, ts: float, now: float = 0.0) -> None:
        if source not in self.marks:
            raise KeyError(f"mark from unknown upstream partition {source!r}")
        if ts > self.marks[source]:
            self.marks[source] = ts
        self.heard[source] = now

    def release(self, now: float = 0.0) -> list[Ordered]:
        """Records earlier than every upstream mark, in canonical order (`now`, the wall
        clock, only matters with `idle_s`)."""
        bound = self._bound(now)
        if bound > self.bound:
            self.bound = bound
        heap = self._heap
        out = []
        while heap and heap[0][0][0] < self.bound:
            out.append(heapq.heappop(heap)[2])
        return out

    def hear_all(self, now: float) -> None:
        """Count every upstream partition as heard from at `now` (a restored merge)."""
        self.heard = dict.fromkeys(self.marks, now)

    def waiting(self) -> list[Ordered]:
        """The records not released yet, in canonical order (for a snapshot)."""
        return [entry[2] for entry in sorted(self._heap)]

    def _bound(self, now: float) -> float:
        if self.idle_s is None:
            return min(self.marks.values())
        since = now - self.idle_s
        live = [m for s, m in self.marks.items() if self.heard[s] >= since]
        if live:
            return min(live)
        if self._heap:  # every upstream partition is silent: release what waits
            return max(k[0] for k, _, _ in self._heap) + 1e-6
        return self.bound

    def __len__(self) -> int:
        return len(self._heap)


__all__ = ["Merger"]
