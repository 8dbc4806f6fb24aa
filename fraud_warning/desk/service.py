"""The desk as one object: alerts in, ranked queue and actions, dispatch, ladder, outcomes.

Both the API server and the engine-side sink talk to a :class:`Desk`. Every method is
idempotent where delivery may repeat (ingest, task creation, ladder rungs), so a replay
after a Redis outage or a crash between two writes completes what was half done instead
of doing it twice. Time comes from the injected clock, so tests replay deadlines at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from fraud_warning.clock import Clock, WallClock
from fraud_warning.contracts import Location
from fraud_warning.desk import actions as desk_actions
from fraud_warning.desk.dispatcher import DispatchService, ServiceConfig
from fraud_warning.desk.errors import Conflict
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.ladder import STEPS, Ladder, LadderConfig
from fraud_warning.desk.metrics import DeskMetrics
from fraud_warning.desk.outcomes import label
from fraud_warning.desk.ranking import vulnerable
from fraud_warning.desk.store import (
    ACTIVE_STATES,
    AlertRecord,
    AlertStore,
    PutResult,
    dumps,
    epoch,
    iso,
    normalise,
)
from fraud_warning.masking import mask_msisdn
from fraud_warning.refdata import Subscriber, Unit

FRAUD_NUMBER = "fraud_number"  # a number-side alert: no victim to warn or visit
DESK_ESCALATION_PRIORITY = "P1"  # a desk escalation is a door visit at the P1 target
log = logging.getLogger("fraud_warning.desk")


@dataclass(frozen=True)
class DeskConfig:
    service: ServiceConfig = field(default_factory=ServiceConfig)
    ladder: LadderConfig = field(default_factory=LadderConfig)


class Desk:
    """The desk on one Redis under `keys`; `subscribers` tell who is elderly."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        keys: Keys | None = None,
        clock: Clock | None = None,
        metrics: DeskMetrics | None = None,
        config: DeskConfig | None = None,
        subscribers: Mapping[str, Subscriber] | None = None,
        units: tuple[Unit, ...] = (),
    ) -> None:
        self.client = client
        self.keys = keys or Keys()
        self.clock = clock or WallClock()
        self.metrics = metrics or DeskMetrics()
        self.config = config or DeskConfig()
        self.subscribers = subscribers or {}
        self.store = AlertStore(client, self.keys)
        self.dispatch = DispatchService(
            client, self.keys, self.clock, self.config.service, on_event=self._task_event
        )
        self.ladder = Ladder(
            client, self.keys, self.dispatch.timers, self.metrics, self.config.ladder
        )
        if units:
            self.dispatch.fleet.load_units(units)

    def ping(self) -> bool:
        return bool(self.client.ping())

    # -- alerts in -----------------------------------------------------------------------

    def ingest(self, alert: Mapping[str, Any], now: float | None = None) -> PutResult:
        """Stores an alert and starts its ladder (a P1 dispatches at once)."""
        now = self.clock.now() if now is None else now
        doc = normalise(alert)
        location = _location(doc)
        result, record = self.store.put(
            doc,
            now=now,
            elderly=vulnerable(doc["subscriber"], self.subscribers),
            district=self.dispatch.fleet.district_at(location),
        )
        self.metrics.alerts_stored.labels(doc["priority"], result).inc()
        # a stale put still climbs: a replay must finish what a crash left half done
        held = record or self.store.get(doc["alert_id"])
        if held is not None and held.state in ACTIVE_STATES:
            step = self.ladder.needs(held.alert_id, held.priority)
            if step is not None and held.alert["typology"] != FRAUD_NUMBER:
                self._open(held, step, now, f"{held.priority} alert", held.priority)
        self.metrics.open_alerts.set(self.store.open_count())
        return result

    def _open(self, rec: AlertRecord, step: str, now: float, reason: str, priority: str) -> None:
        """Opens a ladder rung and does what it asks: a task for the door, else a message."""
        if step == "door":
            task, _ = self.dispatch.create(
                alert_id=rec.alert_id,
                subscriber=rec.subscriber,
                priority=priority,
                location=_location(rec.alert),
                created=now,
                reason=reason,
            )
            deadline = epoch(task["target_arrival"])
            self.ladder.open(rec.alert_id, "door", now, reason=reason, deadline=deadline)
            if task["status"] == "escalated":
                self._fallback(task, now)
            return
        if self.ladder.open(rec.alert_id, step, now, reason=reason):
            # the SMS gateway and the desk's call list read the outbox
            self.client.xadd(
                self.keys.outbox,
                {
                    "kind": step,
                    "alert_id": rec.alert_id,
                    "subscriber": rec.subscriber,
                    "priority": rec.priority,
                    "reason": reason,
                    "at": iso(now),
                },
                maxlen=100_000,
                approximate=True,
            )
            log.info("ladder %s for %s (%s)", step, mask_msisdn(rec.subscriber), reason)

    def _fallback(self, task: Mapping[str, Any], now: float) -> None:
        rec = self.store.get(task["alert_id"])
        if rec is not None and rec.state in ACTIVE_STATES:
            reason = "no unit can reach the door in time"
            self._open(rec, "phone", now, reason, rec.priority)

    # -- desk actions --------------------------------------------------------------------

    def act(
        self,
        alert_id: str,
        action: str,
        *,
        principal: str,
        by: str | None = None,
        reason: str | None = None,
        note: str | None = None,
        now: float | None = None,
    ) -> AlertRecord:
        """Applies a desk action; raises Invalid, NotFound or Conflict saying why."""
        spec = desk_actions.check(action, reason)
        now = self.clock.now() if now is None else now
        if action == "escalate":
            held = self.store.require(alert_id)
            if held.alert["typology"] == FRAUD_NUMBER:
                raise Conflict("a fraud-number alert has no victim to visit; warn its contacts")
        entry = desk_actions.record(
            action, principal=principal, by=by, reason=reason, note=note, now=now
        )
        rec = self.store.transition(
            alert_id,
            allowed=spec.allowed,
            to_state=spec.to_state,
            action=entry,
            dismiss_reason=reason,
            now=now,
        )
        self.metrics.actions.labels(action, reason or "").inc()
        if "*" in spec.answers:
            self.ladder.close(alert_id, STEPS, now, status="cancelled", by=entry["by"])
        elif spec.answers:
            self.ladder.close(alert_id, spec.answers, now, status="answered", by=entry["by"])
        if action == "escalate":
            self._open(rec, "door", now, "escalated by the desk", DESK_ESCALATION_PRIORITY)
        if action == "dismiss" and reason is not None:
            outcome = label(
                rec.alert, source="desk", outcome=reason, by=entry["by"], decided_at=entry["at"]
            )
            self.store.put_outcome(alert_id, outcome)
        self.metrics.open_alerts.set(self.store.open_count())
        return rec

    # -- dispatch ------------------------------------------------------------------------

    def report(self, task_id: str, status: str, **kwargs: Any) -> dict[str, Any]:
        """A unit's report on its task (see :meth:`DispatchService.report`)."""
        return self.dispatch.report(task_id, status, **kwargs)

    def _task_event(self, event: str, task: dict[str, Any]) -> None:
        self.metrics.task_events.labels(event).inc()
        now = self.clock.now()
        if event == "reassigned" and task["status"] == "escalated":
            self._fallback(task, now)
        elif event == "on_scene":
            district = task.get("district") or "unknown"
            self.metrics.arrival.labels(district).observe(task["arrival_s"])
            self.metrics.arrivals.labels(district, str(task["on_time"]).lower()).inc()
            self.ladder.close(
                task["alert_id"], ["door"], now, status="answered", by=task["unit_id"]
            )
        elif event == "resolved":
            self._resolved(task, now)

    def _resolved(self, task: Mapping[str, Any], now: float) -> None:
        rec = self.store.get(task["alert_id"])
        if rec is None:
            return
        at = task.get("resolved_at") or iso(now)
        self.store.put_outcome(
            rec.alert_id,
            label(
                rec.alert,
                source="dispatch",
                outcome=task["outcome"],
                by=task["unit_id"],
                decided_at=at,
            ),
        )
        unit = task["unit_id"]
        entry = desk_actions.record(
            "resolved", principal=unit, by=unit, reason=task["outcome"], note=None, now=now
        )
        # dismissed at the desk meanwhile: the unit's outcome is still the label
        with contextlib.suppress(Conflict):
            self.store.transition(
                rec.alert_id,
                allowed=(*ACTIVE_STATES, "warned"),
                to_state="resolved",
                action=entry,
                now=now,
            )
        self.ladder.close(rec.alert_id, STEPS, now, status="cancelled", by=task["unit_id"])
        self.metrics.open_alerts.set(self.store.open_count())

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> int:
        """Handles every deadline due by `now`: ack timeouts, retries, ladder rungs."""
        now = self.clock.now() if now is None else now
        handled = 0
        for due in self.dispatch.timers.take_due(now):
            handled += 1
            if due.kind == "ack":
                self.dispatch.ack_timeout(due.item, due.detail, now)
            elif due.kind == "retry":
                self.dispatch.retry(due.item, now)
            elif due.kind == "ladder":
                nxt = self.ladder.expire(due.item, due.detail, now)
                rec = self.store.get(due.item) if nxt is not None else None
                if nxt is not None and rec is not None and rec.state in ACTIVE_STATES:
                    self._open(rec, nxt, now, f"{due.detail} unanswered", rec.priority)
        return handled

    # -- views ---------------------------------------------------------------------------

    def detail(self, alert_id: str) -> dict[str, Any]:
        """One alert with its actions, ladder rungs and dispatch task."""
        rec = self.store.require(alert_id)
        return {
            **rec.to_dict(),
            "actions": self.store.actions(alert_id),
            "ladder": self.ladder.steps(alert_id),
            "task": self.dispatch.task(f"T-{alert_id}"),
        }

    def districts(self) -> list[dict[str, Any]]:
        """Per district: open alerts by priority, active tasks, arrivals on time."""
        rows: dict[str, dict[str, Any]] = {}

        def row(name: str) -> dict[str, Any]:
            return rows.setdefault(
                name,
                {
                    "district": name,
                    "P1": 0,
                    "P2": 0,
                    "P3": 0,
                    "active_tasks": 0,
                    "arrived": 0,
                    "on_time": 0,
                },
            )

        for rec in self.store.ranked(limit=10_000):
            row(rec.district)[rec.priority] += 1
        for task in self.dispatch.tasks(limit=5000):
            r = row(task.get("district") or "unknown")
            if task["status"] != "resolved":
                r["active_tasks"] += 1
            if task.get("on_scene_at"):
                r["arrived"] += 1
                r["on_time"] += bool(task.get("on_time"))
        return [rows[k] for k in sorted(rows)]


def _location(alert: Mapping[str, Any]) -> Location | None:
    loc = alert.get("location")
    return Location.model_validate(loc) if loc else None


__all__ = ["DESK_ESCALATION_PRIORITY", "FRAUD_NUMBER", "Desk", "DeskConfig", "dumps"]
