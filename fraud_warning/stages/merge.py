"""Watermark merge: records from several upstream partitions, released in one order.

A stage task must not process a record while an upstream partition may still send an
earlier one: features would then depend on arrival timing. Each upstream partition
sends marks ("nothing earlier than t from me"); records wait and leave in canonical
order once they are earlier than the least mark over all upstream partitions.

Records wait in one queue per upstream partition. A partition sends in canonical order
(its own input order, which a replay keeps), so each queue stays sorted by appending,
and a release takes a prefix of each and sorts only what it takes: merging a few sorted
runs. A heap over everything waiting cost about five times as much per record, and
re-sorting everything waiting at each release more still.

Live traffic has idle partitions (a trickle of events over many partitions), and an
upstream partition that sends nothing would hold everything back. With `idle_s` set, a
partition silent for that long (wall clock) stops counting until it sends again, and
when every partition is silent what waits is released. The clock starts when the merge
first hears from anyone: a partition not heard from yet is silent from then, not from
the epoch (that let the first partition to speak after a start or a hand-over run ahead
of the others, reordering events by minutes). A record that then arrives
earlier than what was released is processed at once: order is exact while upstream
partitions keep talking (a replay's marks see to that), best effort when they do not.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any, Final

from fraud_warning.event_fields import fields_of
from fraud_warning.stages.records import AT_EVENT_ID, AT_T, Mark, Ordered

_MARK: Final = Mark  # in a C static when compiled, not looked up per record
_FIELDS_OF: Final = fields_of

# (event time, event id, part, arrival number, record): flat, so comparing two entries
# is a float comparison in all but ties; the arrival number keeps equal keys in order
Entry = tuple[float, str, int, int, Ordered]
RESTORED = ""  # the queue of records put back from a snapshot


class Merger:
    def __init__(self, sources: Iterable[str], idle_s: float | None = None) -> None:
        self.marks = dict.fromkeys(sources, float("-inf"))
        if not self.marks:
            raise ValueError("a merge needs at least one upstream partition")
        self.idle_s = idle_s
        # wall time a partition last sent; None until the merge first hears from anyone
        self.heard: dict[str, float] | None = None
        self.bound = float("-inf")  # everything earlier has been released
        self._queues: dict[str, list[Entry]] = {}
        self._waiting = 0
        self._ties = 0  # arrival number: keeps equal keys in arrival order

    def feed(self, records: Iterable[Any], source: str, now: float = 0.0) -> None:
        """Take what upstream partition `source` sent: its marks and its data records
        (`now`: the wall clock, for idle partitions). Here, not in the task: called per
        record from interpreted code, `push` and an isinstance check per record were a
        tenth of the worker's drain."""
        for record in records:
            if type(record) is _MARK:
                self.mark(record.source, record.ts, now)
            else:
                self.push(record, source)

    def push(self, record: Ordered, source: str = RESTORED) -> None:
        """Queue a record from upstream partition `source`."""
        # time and id off the record's field tuple: two attribute reads by name cost more
        f = _FIELDS_OF(record)
        self._ties += 1
        entry = (f[AT_T], f[AT_EVENT_ID], record.part, self._ties, record)
        queue = self._queues.get(source)
        if queue is None:
            queue = self._queues[source] = []
        if queue and entry < queue[-1]:
            insort(queue, entry)  # out of order (a disordered producer): rare
        else:
            queue.append(entry)
        self._waiting += 1

    def mark(self, source: str, ts: float, now: float = 0.0) -> None:
        if source not in self.marks:
            raise KeyError(f"mark from unknown upstream partition {source!r}")
        if ts > self.marks[source]:
            self.marks[source] = ts
        self._heard(now)[source] = now

    def release(self, now: float = 0.0) -> list[Ordered]:
        """Records earlier than every upstream mark, in canonical order (`now`, the wall
        clock, only matters with `idle_s`)."""
        bound = self._bound(now)
        if bound > self.bound:
            self.bound = bound
        if not self._waiting:
            return []
        taken: list[Entry] = []
        runs = 0
        for queue in self._queues.values():
            if not queue or queue[0][0] >= self.bound:
                continue
            cut = bisect_left(queue, self.bound, key=_time)
            taken.extend(queue[:cut])
            del queue[:cut]
            runs += 1
        if runs > 1:
            taken.sort()
        self._waiting -= len(taken)
        return [entry[4] for entry in taken]

    def waiting(self) -> list[Ordered]:
        """The records not released yet, in canonical order (for a snapshot)."""
        return [entry[4] for entry in sorted(e for q in self._queues.values() for e in q)]

    def _bound(self, now: float) -> float:
        if self.idle_s is None:
            return min(self.marks.values())
        since, heard = now - self.idle_s, self._heard(now)
        live = [m for s, m in self.marks.items() if heard[s] >= since]
        if live:
            return min(live)
        if self._waiting:  # every upstream partition is silent: release what waits
            return max(q[-1][0] for q in self._queues.values() if q) + 1e-6
        return self.bound

    def _heard(self, now: float) -> dict[str, float]:
        if self.heard is None:
            self.heard = dict.fromkeys(self.marks, now)
        return self.heard

    def __len__(self) -> int:
        return self._waiting


def _time(entry: Entry) -> float:
    return entry[0]


def count_data(records: Iterable[Any]) -> int:
    """How many of `records` are data records, not marks (what envelopes number)."""
    n = 0
    for record in records:
        if type(record) is not _MARK:
            n += 1
    return n


__all__ = ["Merger", "count_data"]
