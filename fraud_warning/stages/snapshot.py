"""Snapshots of a stage task: its keys' state, its merge buffer and its positions.

A snapshot is msgpack of plain values (never pickle: a snapshot store is not trusted to
run code), written whole per task. With it the worker records the input offset the
state covers and the sequence numbers of what the task sent, so a task restored after a
crash re-reads its input from there, and its re-sent records are recognised downstream
as already seen.
"""

from __future__ import annotations

from typing import Any

import msgspec

from fraud_warning.rank import Incident, IncidentBook
from fraud_warning.stages.records import Ordered
from fraud_warning.stages.tasks import (
    TASKS,
    AlertTask,
    Context,
    NumberTask,
    PayeeTask,
    Positions,
    Task,
    VictimTask,
)
from fraud_warning.state import (
    MAX_AGE_H,
    Credit,
    Inbound,
    NumberState,
    PayeeState,
    Payment,
    Recent,
    StateStore,
    VictimState,
    chain,
    distinct_keys,
    newest_first,
)
from fraud_warning.windows import windows_in, windows_out

FORMAT = 2
# format 1 held the number stage's admitted ids as strings (`seen_ids`); 2 holds their
# fingerprints (`admitted`). Both load, so a worker upgraded mid-run restores its tasks.
READS: tuple[int, ...] = (1, 2)


class _Snapshot(msgspec.Struct):
    format: int
    stage: str
    partition: int
    positions: Positions
    victims: dict[str, list[Any]]
    numbers: dict[str, list[Any]]
    payees: dict[str, list[Any]]
    flags: dict[str, float]
    mark: float | None = None  # number stage: its input watermark
    # number stage: event ids admitted (duplicates refused), (fingerprint, time) in order
    admitted: list[tuple[int, int, float]] = []
    seen_ids: dict[str, float] = {}  # the same as id strings, in format 1
    marks: dict[str, float] | None = None  # merging stages: the upstream watermarks
    bound: float | None = None
    waiting: list[Ordered] = []
    victim_incidents: dict[str, Incident] = {}
    number_incidents: dict[str, Incident] = {}


def dump(task: Task, positions: Positions | None = None) -> bytes:
    """The task's snapshot, as bytes (with the task's own positions unless given)."""
    store = task.store
    snap = _Snapshot(
        format=FORMAT,
        stage=task.stage,
        partition=task.partition,
        positions=positions if positions is not None else task.positions,
        victims={k: _victim_out(s) for k, s in store.victims.items()},
        numbers={k: _number_out(s) for k, s in store.numbers.items()},
        payees={k: [s.last_ts, _records_out(s.inbound)] for k, s in store.payees.items()},
        flags=store.flags,
    )
    if isinstance(task, NumberTask):
        snap.mark = task.mark if task.mark > float("-inf") else None
        snap.admitted = task.admission.ids.dump()
        snap.number_incidents = task.alerter.numbers.open
    else:
        merger = task.merger
        snap.marks = {s: m for s, m in merger.marks.items() if m > float("-inf")}
        snap.bound = merger.bound if merger.bound > float("-inf") else None
        snap.waiting = merger.waiting()
    if isinstance(task, AlertTask):
        snap.victim_incidents = task.alerter.victims.open
    return msgspec.msgpack.encode(snap)


def load(ctx: Context, data: bytes) -> tuple[Task, Positions]:
    """A task rebuilt from its snapshot, and its positions."""
    snap = msgspec.msgpack.decode(data, type=_Snapshot)
    if snap.format not in READS:
        raise ValueError(f"snapshot format {snap.format}, expected one of {READS}")
    task = TASKS[snap.stage](ctx, snap.partition)
    task.positions = snap.positions
    _fill(task.store, snap)
    if isinstance(task, NumberTask):
        task.admission.watermark = snap.mark if snap.mark is not None else float("-inf")
        task.admission.remember(snap.seen_ids)
        task.admission.restore(snap.admitted)
        _fill_book(task.alerter.numbers, snap.number_incidents)
    elif isinstance(task, VictimTask | PayeeTask | AlertTask):
        merger = task.merger
        for source, mark in (snap.marks or {}).items():
            merger.mark(source, mark)
        merger.bound = snap.bound if snap.bound is not None else float("-inf")
        for record in snap.waiting:
            merger.push(record)
        if isinstance(task, AlertTask):
            _fill_book(task.alerter.victims, snap.victim_incidents)
    return task, snap.positions


def _records_out(newest: Recent | None) -> list[Any]:
    """A recent-event chain as arrays, oldest first (the format from before chains)."""
    return [r.astuple() for r in reversed(newest_first(newest))]


def _victim_out(s: VictimState) -> list[Any]:
    return [
        s.victim_ts,
        s.last_cell,
        distinct_keys(s._contacts),
        distinct_keys(s._payees),
        _records_out(s.inbound),
        _records_out(s.transfers),
        windows_out(s.windows, "victim"),
    ]


def _number_out(s: NumberState) -> list[Any]:
    return [
        s.number_ts,
        s.bucket,
        sorted(distinct_keys(s.callees)),  # a set: sorted, so equal state dumps to equal bytes
        s.calls,
        s.short_calls,
        s.long_calls,
        s.prev_distinct,
        s.prev_calls,
        s.prev_short,
        s.prev_long,
        s.flagged_at,
        s.risky_origin,
        windows_out(s.windows, "number"),
        s.age_h,
        s.born_m,
    ]


def _fill(store: StateStore, snap: _Snapshot) -> None:
    # a snapshot from before rule-defined windows has no windows entry: read as none
    for key, values in snap.victims.items():
        last_ts, cell, contacts, payees, inbound, transfers = values[:6]
        v = store.victims.restore(key, last_ts)
        v.windows = windows_in(values[6] if len(values) > 6 else None, v.windows)
        v.last_cell = cell
        for number in contacts:
            v.add_contact(number)
        for account in payees:
            v.add_payee(account)
        v.inbound = chain([Inbound(*r) for r in inbound])
        v.transfers = chain([Payment(*r) for r in transfers])
    for key, values in snap.numbers.items():
        n = store.numbers.restore(key, values[0])
        (n.bucket, callees, n.calls, n.short_calls, n.long_calls) = values[1:6]
        (n.prev_distinct, n.prev_calls, n.prev_short, n.prev_long) = values[6:10]
        n.flagged_at, n.risky_origin = values[10], values[11]
        n.windows = windows_in(values[12] if len(values) > 12 else None, n.windows)
        # a snapshot from before the number's age was kept cannot say when it was first
        # seen: read it as established (a day old), never as a new number
        n.age_h, n.born_m = values[13:15] if len(values) > 14 else (MAX_AGE_H, 0)
        for number in callees:
            n.add_callee(number)
    for key, (last_ts, inbound) in snap.payees.items():
        p = PayeeState()
        p.last_ts = last_ts
        p.restore([Credit(*r) for r in inbound])
        store.payees.put(key, p)
    store.flags.update(snap.flags)


def _fill_book(book: IncidentBook, incidents: dict[str, Incident]) -> None:
    book.open.update(incidents)


__all__ = ["Positions", "dump", "load"]
