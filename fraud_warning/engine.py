"""The engine: decode → join → features → models → risk → rank → dispatch, per batch.

One object, no broker: the embedded runner feeds it batches from a file, the Faust
agents feed it batches from topics. Processing is in event time: windows, re-alert
windows and dispatch deadlines read event timestamps, never the wall clock, so the
same events in the same order give the same alerts and tasks, whatever the batching.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from fraud_warning.clock import Clock, to_datetime
from fraud_warning.contracts import Location
from fraud_warning.decode import DeadLetter, Decoded
from fraud_warning.dispatch import Dispatcher
from fraud_warning.features import CATALOGUE, FeatureConfig
from fraud_warning.join import Joiner
from fraud_warning.metrics import Metrics
from fraud_warning.rank import Incident, IncidentBook
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry
from fraud_warning.risk import Verdict
from fraud_warning.rules import MaskCache, Rule
from fraud_warning.state import StateStore
from fraud_warning.wire import Call, Sms, Transfer, WireEvent

FRAUD_NUMBER = "fraud_number"


@dataclass(frozen=True)
class EngineConfig:
    allowed_lateness_s: float = 600.0  # older than watermark − this: dead-lettered as late
    state_retention_s: float = 26 * 3600.0  # idle keys are evicted after this
    incident_ttl_s: float = 12 * 3600.0  # an incident with no new evidence closes
    housekeeping_every_s: float = 600.0  # event-time interval between eviction sweeps


@dataclass
class Output:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    shadow_hits: int = 0


@dataclass(slots=True)
class _Row:
    """A trigger snapshot waiting for its batch's column-wise model pass."""

    seq: int
    subscriber: str
    event: WireEvent
    ts: float
    watermark: float
    cell: str | None  # the subscriber's last known cell at this event, for the alert's location


class Engine:
    def __init__(
        self,
        registry: Registry,
        refdata: RefData | None = None,
        *,
        dispatcher: Dispatcher | None = None,
        metrics: Metrics | None = None,
        config: EngineConfig | None = None,
        features: FeatureConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`clock=None` stamps `emitted_at` with event time (deterministic replays);
        a live runner passes a wall clock."""
        self.registry = registry
        self.refdata = refdata or RefData.empty()
        self.config = config or EngineConfig()
        self.metrics = metrics or Metrics()
        self.dispatcher = dispatcher
        self.clock = clock
        self.store = StateStore(self.config.state_retention_s)
        self.joiner = Joiner(self.store, self.refdata, wanted_kinds(registry), features)
        self.victims = IncidentBook(self.config.incident_ttl_s)
        self.numbers = IncidentBook(self.config.incident_ttl_s)
        self.realert = {r.key: r.spec.realert_s for r in registry}
        self._number_gate = registry.gate("number")
        self._number_rows = 0
        # metric children resolved once: a labels() lookup per rule per call adds up
        self._evaluations = {
            r.key: self.metrics.model_evaluations.labels(r.spec.id, str(r.spec.version))
            for r in registry
        }
        self._seconds = {r.key: self.metrics.model_seconds.labels(r.spec.id) for r in registry}
        self.watermark = float("-inf")
        self._seq = 0
        self._next_housekeeping = float("-inf")
        self._next_size_estimate = float("-inf")
        self._m_events = {t: self.metrics.events.labels(t) for t in ("call", "sms", "transfer")}

    # -- the batch ---------------------------------------------------------------------

    def process(self, batch: Sequence[Decoded], source: str = "-") -> Output:
        """Run one batch of decoded events through every stage."""
        started = time.perf_counter()
        out = Output()
        rows: dict[str, list[_Row]] = defaultdict(list)
        values: dict[str, list[list[float]]] = defaultdict(list)
        hits: list[tuple[int, _Row, list[Verdict]]] = []
        joiner = self.joiner
        number_rules = self.registry.by_kind.get("number", ())
        lateness = self.config.allowed_lateness_s
        counts = {"call": 0, "sms": 0, "transfer": 0}
        for item in batch:
            ev = item.event
            ts = ev.ts.timestamp()
            if ts < self.watermark - lateness:
                out.dead.append(_late(item, source, self.watermark - ts))
                continue
            if ts > self.watermark:
                self.watermark = ts
                if ts >= self._next_housekeeping:
                    self._housekeeping(ts)
            self._seq += 1
            kind = type(ev)
            if kind is Call:
                counts["call"] += 1
                victim_row, number_row = joiner.call(ev, ts)  # type: ignore[arg-type]
                if victim_row is not None:
                    rows["call"].append(self._row(ev.callee, ev, ts))  # type: ignore[union-attr]
                    values["call"].append(victim_row)
                if number_row is not None:
                    fired = self._number_verdicts(number_rules, number_row, ev.caller, ts)  # type: ignore[union-attr]
                    if fired:
                        row = self._row(ev.caller, ev, ts)  # type: ignore[union-attr]
                        hits.append((self._seq, row, fired))
            elif kind is Sms:
                counts["sms"] += 1
                sms_row = joiner.sms(ev, ts)  # type: ignore[arg-type]
                if sms_row is not None:
                    rows["sms"].append(self._row(ev.receiver, ev, ts))  # type: ignore[union-attr]
                    values["sms"].append(sms_row)
            else:
                counts["transfer"] += 1
                transfer_row = joiner.transfer(ev, ts)  # type: ignore[arg-type]
                if transfer_row is not None:
                    rows["transfer"].append(self._row(ev.payer, ev, ts))  # type: ignore[union-attr]
                    values["transfer"].append(transfer_row)
        for name, n in counts.items():
            if n:
                self._m_events[name].inc(n)
        if self._number_rows:
            for rule in number_rules:
                self._evaluations[rule.key].inc(self._number_rows)
            self._number_rows = 0
        # an event creates at most a few keys; checking half a key per event per side still
        # sweeps the whole store every couple of key-lifetimes, in small slices
        self.store.evict_idle(self.watermark, budget=len(batch) // 2 + 16)
        joined = time.perf_counter()

        for trigger, trigger_rows in rows.items():
            hits.extend(self._evaluate(trigger, trigger_rows, values[trigger], out))
        hits.sort(key=lambda h: h[0])
        modelled = time.perf_counter()

        for _seq, row, verdicts in hits:
            self._emit(row, verdicts, out)
        done = time.perf_counter()

        m = self.metrics
        m.stage.labels("join").observe(joined - started)
        m.stage.labels("models").observe(modelled - joined)
        m.stage.labels("rank").observe(done - modelled)
        for dl in out.dead:
            m.dead.labels(dl.reason).inc()
        m.open_alerts.set(len(self.victims.open) + len(self.numbers.open))
        return out

    # -- models ------------------------------------------------------------------------

    def _number_verdicts(
        self, rules: Sequence[Rule], row: list[float], number: str, ts: float
    ) -> list[Verdict]:
        """Number-side rules run per call so a flag is visible to the very next event."""
        for index, bound in self._number_gate:
            if row[index] < bound:
                return []
        self._number_rows += 1  # every number rule runs on this row (counted per batch)
        fired = []
        for rule in rules:
            if rule.matches(row):
                self.metrics.model_hits.labels(
                    rule.spec.id, str(rule.spec.version), rule.spec.status
                ).inc()
                if rule.pages:
                    fired.append(_verdict(rule, row))
        if fired:
            state = self.store.numbers.get(number, ts)
            if state is not None and state.flagged_at is None:
                state.flagged_at = ts
        return fired

    def _evaluate(
        self, kind: str, rows: list[_Row], values: list[list[float]], out: Output
    ) -> list[tuple[int, _Row, list[Verdict]]]:
        """Column-wise: every rule of the kind over the batch's trigger matrix."""
        matrix = np.asarray(values, dtype=np.float64)
        cache = MaskCache(matrix)
        per_row: dict[int, list[Verdict]] = defaultdict(list)
        m = self.metrics
        for rule in self.registry.by_kind.get(kind, ()):
            version = str(rule.spec.version)
            started = time.perf_counter()
            self._evaluations[rule.key].inc(len(rows))
            idx = np.flatnonzero(cache.rule(rule))
            self._seconds[rule.key].observe(time.perf_counter() - started)
            if not len(idx):
                continue
            m.model_hits.labels(rule.spec.id, version, rule.spec.status).inc(len(idx))
            if not rule.pages:
                out.shadow_hits += len(idx)
                continue
            for i in idx.tolist():
                per_row[i].append(_verdict(rule, values[i]))
        for scorer in self.registry.scorers.get(kind, ()):  # LightGBM, on the same matrix
            card, version = scorer.card, str(scorer.card.version)
            started = time.perf_counter()
            fired = scorer.fire(matrix)
            m.model_seconds.labels(card.id).observe(time.perf_counter() - started)
            m.model_evaluations.labels(card.id, version).inc(fired.evaluated)
            if not len(fired.rows):
                continue
            m.model_hits.labels(card.id, version, card.status).inc(len(fired.rows))
            if not scorer.pages:
                out.shadow_hits += len(fired.rows)
                continue
            for i, verdict in zip(fired.rows.tolist(), scorer.verdicts(fired), strict=True):
                per_row[i].append(verdict)
        return [(rows[i].seq, rows[i], v) for i, v in per_row.items()]

    # -- rank, sink, dispatch ----------------------------------------------------------

    def _emit(self, row: _Row, verdicts: list[Verdict], out: Output) -> None:
        number_side = verdicts[0].typology == FRAUD_NUMBER
        book = self.numbers if number_side else self.victims
        ev = row.event
        money = ev.amount_cny if type(ev) is Transfer else 0.0
        incident = book.update(row.subscriber, verdicts, self.realert, ev.event_id, row.ts, money)
        if incident is None:
            return
        emitted = row.watermark if self.clock is None else self.clock.now()
        location = None if number_side else self._location(row.subscriber, row.cell)
        alert = _alert(incident, ev.ts, emitted, location)
        out.alerts.append(alert)
        self.metrics.event_to_alert.observe(max(0.0, emitted - row.ts))
        self.metrics.alerts.labels(incident.priority, incident.typology).inc()
        if (
            self.dispatcher is not None
            and not number_side
            and incident.priority == "P1"
            and self.dispatcher.task(incident.alert_id) is None
        ):
            task = self.dispatcher.dispatch(
                alert_id=incident.alert_id,
                subscriber=incident.subscriber,
                priority="P1",
                location=location,
                now=to_datetime(emitted, ev.ts),
            )
            out.tasks.append(task.model_dump(mode="json"))
            self.metrics.tasks.labels(task.status).inc()

    def _row(self, subscriber: str, ev: WireEvent, ts: float) -> _Row:
        # the cell is read now: by the time the batch is ranked, later events may have moved it
        state = self.store.victims.get(subscriber, ts)
        cell = state.last_cell if state is not None else None
        return _Row(self._seq, subscriber, ev, ts, self.watermark, cell)

    def _location(self, subscriber: str, cell_id: str | None) -> Location | None:
        if cell_id is not None:
            cell = self.refdata.cells.get(cell_id)
            if cell is not None:
                return Location(lat=cell[0], lon=cell[1], source="cell")
        sub = self.refdata.subscribers.get(subscriber)
        if sub is not None and sub.home_lat is not None and sub.home_lon is not None:
            return Location(lat=sub.home_lat, lon=sub.home_lon, source="home")
        return None

    def _housekeeping(self, watermark: float) -> None:
        self.victims.expire(watermark)
        self.numbers.expire(watermark)
        for side, n in self.store.sizes().items():
            self.metrics.state_keys.labels(side).set(n)
        if watermark >= self._next_size_estimate:
            # deep sizes are slow (a fraud number holds a thousand callees): hourly, sampled
            for side, n in self.store.estimate_bytes().items():
                self.metrics.state_bytes.labels(side).set(n)
            self._next_size_estimate = watermark + 3600.0
        self._next_housekeeping = watermark + self.config.housekeeping_every_s


#: Per trigger kind, the feature read straight off the event: its gate is checked before
#: any state is read, so a short call or a small transfer costs no feature work.
EVENT_GATES = {"call": "call_duration_s", "transfer": "amount_cny"}


def wanted_kinds(registry: Registry) -> dict[str, float]:
    """Trigger kinds with models, each with the least gate value any of its models needs."""
    wanted: dict[str, float] = {}
    for kind, rules in registry.by_kind.items():
        if not rules:
            continue
        name = EVENT_GATES.get(kind)
        index = CATALOGUE[kind].index(name) if name else -1
        wanted[kind] = dict(registry.gate(kind)).get(index, float("-inf"))
    for kind, scorers in registry.scorers.items():
        if scorers:  # a scorer reads every row above its own prefilter, not the rules' gate
            gate = min(scorer.event_gate(EVENT_GATES.get(kind)) for scorer in scorers)
            wanted[kind] = min(wanted.get(kind, gate), gate)
    return wanted


def _verdict(rule: Rule, row: Sequence[float]) -> Verdict:
    s = rule.spec
    return Verdict(rule.key, s.version, s.score, s.priority, s.typology, tuple(rule.reasons(row)))


def _late(item: Decoded, source: str, behind_s: float) -> DeadLetter:
    import msgspec

    raw = msgspec.json.encode(item.event).decode()
    return DeadLetter(source, item.offset, "late", f"{behind_s:.0f} s behind the watermark", raw)


def _alert(
    incident: Incident, event_ts: datetime, emitted: float, location: Location | None
) -> dict[str, Any]:
    return {
        "alert_id": incident.alert_id,
        "revision": incident.revision,
        "subscriber": incident.subscriber,
        "score": incident.score,
        "priority": incident.priority,
        "typology": incident.typology,
        "models": [
            {
                "id": v.model_id.split("@", 1)[0],
                "version": v.version,
                "score": v.score,
                "reasons": list(v.reasons),
            }
            for v in sorted(incident.models.values(), key=lambda v: (-v.score, v.model_id))
        ],
        "evidence": list(incident.evidence),
        "event_ts": event_ts.isoformat(),
        "emitted_at": to_datetime(emitted, event_ts).isoformat(),
        "location": location.model_dump() if location is not None else None,
    }


__all__ = ["FRAUD_NUMBER", "Engine", "EngineConfig", "Output", "wanted_kinds"]
