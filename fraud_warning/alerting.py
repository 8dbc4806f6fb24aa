"""Rank and sink stage: verdicts join the subscriber's incident; changes become alerts.

Victim-side verdicts join the subscriber's incident, number-side ones the number's; an
alert (re)emits when the incident changes what a desk would do, and a P1 victim alert
gets a dispatch task when a dispatcher is attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from fraud_warning.clock import Clock, to_datetime
from fraud_warning.contracts import Location
from fraud_warning.decode import DeadLetter
from fraud_warning.dispatch import Dispatcher
from fraud_warning.features import NUMBER_KINDS
from fraud_warning.metrics import Metrics
from fraud_warning.rank import Incident, IncidentBook
from fraud_warning.refdata import RefData
from fraud_warning.registry import Registry
from fraud_warning.risk import Verdict
from fraud_warning.wire import Transfer, WireEvent

FRAUD_NUMBER = "fraud_number"


class Trigger(NamedTuple):
    """The event a verdict was raised at: its id, time (seconds, and as the event gave it,
    with its UTC offset) and the money it moved."""

    event_id: str
    ts: float
    when: datetime
    money: float = 0.0

    @classmethod
    def of(cls, ev: WireEvent, ts: float) -> Trigger:
        return cls(ev.event_id, ts, ev.ts, ev.amount_cny if type(ev) is Transfer else 0.0)


@dataclass
class Output:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    shadow_hits: int = 0
    # what shadow and experimental models fired on: never paged, logged for comparison
    shadow: list[dict[str, Any]] = field(default_factory=list)

    def add_shadow(
        self, kind: str, subject: str, at: Trigger, fired: list[tuple[str, Verdict]]
    ) -> None:
        """One shadow-log record per model that fired on `subject` at `at` without paging.

        Records read like first alerts (`alert_id`, `revision` 1, `emitted_at` = the
        event's time), so `fraud-warning evaluate --alerts` scores a shadow log too."""
        number = kind in NUMBER_KINDS
        when = at.when.isoformat()  # once per trigger: a large registry fires many at one
        for status, v in fired:
            self.shadow.append(
                {
                    "alert_id": f"shadow:{v.model_id}:{at.event_id}",
                    "revision": 1,
                    "emitted_at": when,
                    "event_id": at.event_id,
                    "kind": kind,
                    "subscriber": subject,
                    "model": v.model_id,
                    "status": status,
                    "score": v.score,
                    "priority": v.priority,
                    "typology": FRAUD_NUMBER if number else v.typology,
                    "reasons": list(v.reasons),
                }
            )
        self.shadow_hits += len(fired)


class Alerter:
    def __init__(
        self,
        registry: Registry,
        refdata: RefData,
        metrics: Metrics,
        *,
        incident_ttl_s: float,
        dispatcher: Dispatcher | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`clock=None` stamps `emitted_at` with the event-time watermark (deterministic
        replays); a live runner passes a wall clock."""
        self.refdata = refdata
        self.metrics = metrics
        self.dispatcher = dispatcher
        self.clock = clock
        self.realert: dict[str, float] = {}
        self.set_registry(registry)
        self.victims = IncidentBook(incident_ttl_s)
        self.numbers = IncidentBook(incident_ttl_s)

    def set_registry(self, registry: Registry) -> None:
        """Re-alert windows of a new registry's rules; open incidents are kept, and a
        rule whose `id@version` is unchanged keeps its re-alert clock."""
        self.realert = {r.key: r.spec.realert_s for r in registry}
        self.realert.update((m.key, m.card.realert_s) for m in registry.models)

    def emit(
        self,
        subscriber: str,
        at: Trigger,
        watermark: float,
        cell: str | None,
        verdicts: list[Verdict],
        out: Output,
    ) -> None:
        """Join `verdicts` (raised at event `at` on `subscriber`) to the incident."""
        number_side = verdicts[0].typology == FRAUD_NUMBER
        book = self.numbers if number_side else self.victims
        ts = at.ts
        incident = book.update(subscriber, verdicts, self.realert, at.event_id, ts, at.money)
        if incident is None:
            return
        emitted = watermark if self.clock is None else self.clock.now()
        location = None if number_side else self.location(subscriber, cell)
        alert = alert_record(incident, at.when, emitted, location)
        out.alerts.append(alert)
        self.metrics.event_to_alert.observe(max(0.0, emitted - ts))
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
                now=to_datetime(emitted, at.when),
            )
            out.tasks.append(task.model_dump(mode="json"))
            self.metrics.tasks.labels(task.status).inc()

    def location(self, subscriber: str, cell_id: str | None) -> Location | None:
        if cell_id is not None:
            cell = self.refdata.cells.get(cell_id)
            if cell is not None:
                return Location(lat=cell[0], lon=cell[1], source="cell")
        sub = self.refdata.subscribers.get(subscriber)
        if sub is not None and sub.home_lat is not None and sub.home_lon is not None:
            return Location(lat=sub.home_lat, lon=sub.home_lon, source="home")
        return None

    def expire(self, watermark: float) -> None:
        self.victims.expire(watermark)
        self.numbers.expire(watermark)
        if self.dispatcher is not None:
            self.dispatcher.forget({i.alert_id for i in self.victims.open.values()})

    @property
    def open_incidents(self) -> int:
        return len(self.victims.open) + len(self.numbers.open)


def alert_record(
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


__all__ = ["FRAUD_NUMBER", "Alerter", "Output", "Trigger", "alert_record"]
