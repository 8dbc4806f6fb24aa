"""Stage tasks: one per partition of each stage, each with its own keys' state.

    input ─► N (caller / sender / payer) ─► V (subscriber) ─► P (payee account)
             number state, number rules,     victim state,     payee state,
             flags to every V                call/SMS models    transfer models
                  │                               │                  │
                  └─► number alerts               └───► A (subscriber) ◄┘
                                                        incidents, alerts

A task takes records (:meth:`feed`), processes what its upstream marks allow
(:meth:`step`) and returns what it sends: `(stage, key, record)`, key None meaning every
partition of that stage. The pieces of work are the embedded engine's own (`join`,
`scoring`, `alerting`), called on the same values in the same canonical order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from fraud_warning.alerting import Alerter, Output, Trigger
from fraud_warning.decode import DeadLetter, Decoded
from fraud_warning.engine import EngineConfig, wanted_kinds
from fraud_warning.epoch import Epochs
from fraud_warning.features import FeatureConfig
from fraud_warning.join import NumberSide, PayeeSide, PayerHalf, Sides, VictimSide
from fraud_warning.metrics import Metrics
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry
from fraud_warning.scoring import Models
from fraud_warning.stages.merge import Merger
from fraud_warning.stages.number_loop import number_events
from fraud_warning.stages.records import (
    ALERT,
    NUMBER,
    PAYEE,
    STAGES,
    VICTIM,
    Flag,
    Mark,
    Ordered,
    PayeeRow,
    Record,
    Send,
    Verdicts,
    event_time,
    order_key,
)
from fraud_warning.stages.victim_loop import victim_records
from fraud_warning.state import StateStore
from fraud_warning.wire import Call, Sms

# housekeeping (eviction slices, expired flags and incidents) runs this often in event time
HOUSEKEEPING_S = 600.0


class Positions(msgspec.Struct):
    """Where a task stands: input read up to `offset`; data records sent to each
    destination partition and taken from each upstream partition (marks not counted)."""

    offset: int = -1  # the last input offset the task's state covers
    sent: dict[str, int] = {}
    seen: dict[str, int] = {}


@dataclass
class Context:
    """What every task of one pipeline shares: the registry, site data and settings."""

    registry: Registry
    refdata: RefData = field(default_factory=RefData.empty)
    partitions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 1))
    metrics: Metrics = field(default_factory=Metrics)
    config: EngineConfig = field(default_factory=EngineConfig)
    features: FeatureConfig | None = None
    idle_s: float | None = None  # see merge.Merger: None in replays and tests (exact order)

    def __post_init__(self) -> None:
        self.sides = Sides(
            self.refdata, wanted_kinds(self.registry), self.features, self.registry.windows
        )

    def swap(self, registry: Registry) -> None:
        """Make `registry` the one tasks read (each task then calls :meth:`_Task.activate`)."""
        self.registry = registry
        self.sides.set_wanted(wanted_kinds(registry), registry.windows)  # every task's side

    def sources(self, stage: str) -> list[str]:
        """Names of the upstream partitions feeding a task of `stage`."""
        upstream = {VICTIM: (NUMBER,), PAYEE: (VICTIM,), ALERT: (VICTIM, PAYEE)}[stage]
        return [f"{s}{i}" for s in upstream for i in range(self.partitions[s])]

    def alerter(self) -> Alerter:
        return Alerter(
            self.registry, self.refdata, self.metrics, incident_ttl_s=self.config.incident_ttl_s
        )


class _Task:
    stage = ""

    def __init__(self, ctx: Context, partition: int) -> None:
        self.ctx = ctx
        self.partition = partition
        self.name = f"{self.stage}{partition}"
        self.store = StateStore(ctx.config.state_retention_s)
        self.positions = Positions()
        self._next_housekeeping = float("-inf")

    def activate(self) -> None:
        """Take the context's (new) registry: state is kept, only models change."""
        if hasattr(self, "models"):
            self.models = Models(self.ctx.registry, self.ctx.metrics)
        alerter = getattr(self, "alerter", None)
        if alerter is not None:
            alerter.set_registry(self.ctx.registry)

    def _housekeeping(self, watermark: float, events: int) -> None:
        self.store.sweep(watermark, events)
        if watermark >= self._next_housekeeping:
            self.store.expire_flags(watermark)
            self._next_housekeeping = watermark + HOUSEKEEPING_S


class NumberTask(_Task):
    """Reads the input partition directly: events arrive keyed by their number key."""

    stage = NUMBER

    def __init__(self, ctx: Context, partition: int) -> None:
        super().__init__(ctx, partition)
        self.side = NumberSide(ctx.sides, self.store.numbers)
        self.models = Models(ctx.registry, ctx.metrics)
        self.alerter = ctx.alerter()
        self.admission = ctx.config.admission()
        self.epochs = Epochs()  # event times to epoch seconds, the last one remembered
        # in the order number_events counts them
        self._events = [ctx.metrics.events.labels(t) for t in ("call", "sms", "transfer")]

    @property
    def mark(self) -> float:
        """Input events from here on are not earlier than this (less the lateness)."""
        return self.admission.watermark

    def events(self, batch: Sequence[Decoded], out: Output, source: str = "-") -> list[Send]:
        """Process a batch of input events in arrival order; `out` gets number alerts and
        events refused at admission."""
        sends: list[Send] = []
        counts = number_events(self, batch, out, source, sends)
        for events, n in zip(self._events, counts, strict=True):
            if n:
                events.inc(n)
        self.models.count_number_rows()
        self._housekeeping(self.mark, len(batch))
        return [*sends, *self.heartbeat()]

    def _number_rules(
        self,
        ev: Call | Sms,
        number: str,
        t: float,
        row: list[float],
        kind: str,
        sends: list[Send],
        out: Output,
    ) -> None:
        """The number's rules on one of its calls or SMS; a page flags it everywhere."""
        fired = self.models.number(row, kind)
        if fired.shadow:
            out.add_shadow(kind, number, Trigger.of(ev, t), fired.shadow)
        if not fired.pages:
            return
        state = self.store.numbers.get(number, t)
        if state is not None and not state.flagged(t):
            state.flagged_at = t
            sends.append((VICTIM, None, Flag(ev.event_id, t, number)))
        self.alerter.emit(number, Trigger.of(ev, t), self.mark, None, fired.pages, out)

    def advance(self, ts: float) -> list[Send]:
        """A promise from the input partition (a replay's or an idle tick's): no event
        earlier than `ts` follows."""
        if ts <= self.mark:
            return []
        self.admission.advance(ts)
        return self.heartbeat()

    def heartbeat(self) -> list[Send]:
        if self.mark == float("-inf"):
            return []  # no event yet: nothing to promise
        return [(VICTIM, None, Mark(self.name, self.mark))]


class _MergingTask(_Task):
    def __init__(self, ctx: Context, partition: int) -> None:
        super().__init__(ctx, partition)
        self.merger = Merger(ctx.sources(self.stage), ctx.idle_s)

    def feed(self, records: Iterable[Record], now: float = 0.0, source: str = "") -> None:
        """Take records sent by upstream partition `source` (`now`: the wall clock, for
        idle partitions)."""
        self.merger.feed(records, source, now)

    def step(self, out: Output, now: float = 0.0) -> list[Send]:
        """Process what the upstream marks release; returns what to send on."""
        before = self.merger.bound
        released = self.merger.release(now)
        if not released and self.merger.bound == before:
            return []  # nothing new to say downstream
        sends = self._process(released, out) if released else []
        if self.merger.bound > float("-inf"):
            self._housekeeping(self.merger.bound, len(released))
            sends.extend(self.heartbeat())
        return sends

    def heartbeat(self) -> list[Send]:
        return [(stage, None, Mark(self.name, self.merger.bound)) for stage in self.downstream]

    downstream: tuple[str, ...] = ()

    def _process(self, records: list[Ordered], out: Output) -> list[Send]:
        raise NotImplementedError


class VictimTask(_MergingTask):
    stage = VICTIM
    downstream = (PAYEE, ALERT)

    def __init__(self, ctx: Context, partition: int) -> None:
        super().__init__(ctx, partition)
        self.side = VictimSide(ctx.sides, self.store.victims, self.store.flags)
        self.models = Models(ctx.registry, ctx.metrics)

    def _process(self, records: list[Ordered], out: Output) -> list[Send]:
        sends: list[Send] = []
        pending: dict[str, list[_Pending]] = {}
        values: dict[str, list[list[float]]] = {}
        store = self.store
        for kind, who, rec, row, cell in victim_records(
            self.side, store.victims, store.flags, records, sends
        ):
            pending.setdefault(kind, []).append(
                _Pending(who, rec.event_id, rec.t, rec.tz, 0.0, cell)
            )
            values.setdefault(kind, []).append(row)
        verdicts: list[Send] = []
        for kind_name, rows in values.items():
            verdicts.extend(_verdicts(self.models, kind_name, rows, pending[kind_name], out))
        # in canonical order, whichever trigger kind came first: what a task sends must
        # not depend on how its input was cut into batches (see stages.envelope)
        verdicts.sort(key=lambda send: order_key(send[2]))  # type: ignore[arg-type]
        return sends + verdicts


class PayeeTask(_MergingTask):
    stage = PAYEE
    downstream = (ALERT,)

    def __init__(self, ctx: Context, partition: int) -> None:
        super().__init__(ctx, partition)
        self.side = PayeeSide(ctx.sides, self.store.payees)
        self.models = Models(ctx.registry, ctx.metrics)

    def _process(self, records: list[Ordered], out: Output) -> list[Send]:
        pending: list[_Pending] = []
        values: list[list[float]] = []
        for rec in records:
            if not isinstance(rec, PayeeRow):
                continue
            half = PayerHalf(rec.context, rec.half, rec.windows)
            row = self.side.transfer(rec.payer, rec.payee_account, rec.amount_cny, rec.t, half)
            if row is not None:
                pending.append(
                    _Pending(rec.payer, rec.event_id, rec.t, rec.tz, rec.amount_cny, rec.cell)
                )
                values.append(row)
        return _verdicts(self.models, "transfer", values, pending, out) if values else []


class AlertTask(_MergingTask):
    stage = ALERT

    def __init__(self, ctx: Context, partition: int) -> None:
        super().__init__(ctx, partition)
        self.alerter = ctx.alerter()

    def _process(self, records: list[Ordered], out: Output) -> list[Send]:
        emit = self.alerter.emit
        for rec in records:
            if isinstance(rec, Verdicts):
                emit(rec.subscriber, _trigger(rec), rec.t, rec.cell, rec.verdicts, out)
        return []

    def _housekeeping(self, watermark: float, events: int) -> None:
        if watermark >= self._next_housekeeping:
            self.alerter.expire(watermark)
            self._next_housekeeping = watermark + HOUSEKEEPING_S


class _Pending(NamedTuple):
    """A trigger row's subscriber and event, waiting for its batch's model pass."""

    subscriber: str
    event_id: str
    t: float
    tz: int
    money: float
    cell: str | None


def _trigger(at: Verdicts | _Pending) -> Trigger:
    """The trigger a stage record stands for (its event, event time and money)."""
    return Trigger(at.event_id, at.t, event_time(at.t, at.tz), at.money)


def _verdicts(
    models: Models,
    kind: str,
    values: list[list[float]],
    pending: list[_Pending],
    out: Output,
) -> list[Send]:
    """Run the kind's models over the rows; each row that fired goes to its subscriber's
    incident."""
    per_row, shadow = models.evaluate(kind, values)
    for i in sorted(shadow):
        at = pending[i]
        out.add_shadow(kind, at.subscriber, _trigger(at), shadow[i])
    sends: list[Send] = []
    for i in sorted(per_row):
        at = pending[i]
        record = Verdicts(at.event_id, at.t, at.tz, at.subscriber, at.money, at.cell, per_row[i])
        sends.append((ALERT, at.subscriber, record))
    return sends


Task = NumberTask | VictimTask | PayeeTask | AlertTask
TASKS: dict[str, type[Task]] = {
    NUMBER: NumberTask,
    VICTIM: VictimTask,
    PAYEE: PayeeTask,
    ALERT: AlertTask,
}

__all__ = [
    "ALERT",
    "NUMBER",
    "PAYEE",
    "STAGES",
    "TASKS",
    "VICTIM",
    "AlertTask",
    "Context",
    "DeadLetter",
    "NumberTask",
    "PayeeTask",
    "Positions",
    "Send",
    "Task",
    "VictimTask",
]
