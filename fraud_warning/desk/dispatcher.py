"""The dispatch service on Redis: tasks for the nearest free unit, unit reports, reassignment.

Shared by every worker and server: unit positions live in one hash, and a unit is busy
while its claim key (`SET NX`, holding the task id) exists, so two workers can never send
the same unit twice. ETAs come from :func:`fraud_warning.dispatch.etas_s`, the same
estimate as the in-memory dispatcher.

A task is `assigned` when its unit can reach the door by `target_arrival` (created + the
priority's target), otherwise `escalated` (still with the nearest unit if there is one;
the desk then raises a phone warning at once). A unit that does not acknowledge within
`ack_timeout_s` loses the task to the next nearest free unit. Units report
`acknowledged` → `on_scene` → `resolved` (with an outcome); resolving frees the unit at
the victim's door.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
import redis
from redis.client import Pipeline

from fraud_warning.clock import Clock
from fraud_warning.contracts import Location
from fraud_warning.desk.errors import Conflict, Invalid, NotFound
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import dumps, epoch, iso, publish, texts, transact
from fraud_warning.desk.timers import Timers
from fraud_warning.desk.units import Fleet, UnitInfo, check_position
from fraud_warning.dispatch import DispatchConfig

OUTCOMES = ("warned", "money_stopped", "not_fraud", "not_found")
UNIT_REPORTS = ("acknowledged", "on_scene", "resolved")
RETRY_S = 30.0  # an escalated task without a unit looks for a free one this often
# Which statuses each report may follow; a unit may arrive without acknowledging first.
_FROM = {
    "acknowledged": ("assigned", "escalated"),
    "on_scene": ("assigned", "escalated", "acknowledged"),
    "resolved": ("acknowledged", "on_scene"),
}


def _default_targets() -> Mapping[str, float]:
    return MappingProxyType({"P1": 300.0, "P2": 600.0, "P3": 900.0})


@dataclass(frozen=True)
class ServiceConfig:
    """Dispatch on Redis. `dispatch.targets_s` gives each priority's door target."""

    dispatch: DispatchConfig = field(
        default_factory=lambda: DispatchConfig(targets_s=_default_targets())
    )
    # Seconds a unit has to acknowledge before the task goes to the next unit.
    ack_timeout_s: float = 60.0

    def target_s(self, priority: str) -> float:
        # a priority without its own target is visited at the P1 target rather than never
        target = self.dispatch.targets_s.get(priority, self.dispatch.targets_s.get("P1"))
        if target is None:
            valid = ", ".join(sorted(self.dispatch.targets_s))
            raise Invalid(f"priority {priority!r} has no door target (configured: {valid})")
        return target


def parse_targets(text: str) -> dict[str, float]:
    """`P1=300,P2=600` → door targets in seconds; ValueError says what is wrong.

    >>> parse_targets("P1=240, P2=600")
    {'P1': 240.0, 'P2': 600.0}
    """
    targets: dict[str, float] = {}
    for item in (i.strip() for i in text.split(",")):
        priority, sep, value = item.partition("=")
        if not sep or priority.strip() not in ("P1", "P2", "P3"):
            raise ValueError(f"expected P1=SECONDS,P2=SECONDS,…; got {item!r}")
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{priority.strip()}: not a number of seconds: {value!r}") from None
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"{priority.strip()}: target must be > 0 seconds")
        targets[priority.strip()] = seconds
    if "P1" not in targets:
        raise ValueError("P1 needs a target: every door visit falls back on it")
    return targets


class DispatchService:
    """Tasks and units in Redis under `keys`; `on_change` hears every task change."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        config: ServiceConfig | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.clock = clock
        self.config = config or ServiceConfig()
        self.timers = Timers(client, keys)
        self.fleet = Fleet(client, keys, self.config.dispatch)
        self._on_event = on_event or (lambda event, task: None)

    # -- tasks ---------------------------------------------------------------------------

    def task(self, task_id: str) -> dict[str, Any] | None:
        raw = self.client.get(self.keys.task(task_id))
        return orjson.loads(raw) if raw is not None else None

    def require(self, task_id: str) -> dict[str, Any]:
        task = self.task(task_id)
        if task is None:
            raise NotFound(f"no task {task_id!r}")
        return task

    def tasks(
        self, statuses: Iterable[str] | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Tasks newest first, optionally only those in `statuses`."""
        ids = texts(self.client.zrevrange(self.keys.tasks, 0, 4999))
        raws = self.client.mget([self.keys.task(t) for t in ids]) if ids else []
        wanted = set(statuses) if statuses is not None else None
        out = []
        for raw in raws:
            if raw is None:
                continue
            task = orjson.loads(raw)
            if wanted is None or task["status"] in wanted:
                out.append(task)
            if len(out) >= limit:
                break
        return out

    def create(
        self,
        *,
        alert_id: str,
        subscriber: str,
        priority: str,
        location: Location | None,
        created: float,
        reason: str,
    ) -> tuple[dict[str, Any], bool]:
        """The alert's task, created now unless it exists; returns (task, created_now).

        `created` is when the task was asked for (a write buffered during an outage keeps
        its original time); feasibility is judged from the clock's `now`.
        """
        task_id = f"T-{alert_id}"
        existing = self.task(task_id)
        if existing is not None:
            return existing, False
        target_ts = created + self.config.target_s(priority)
        now = max(created, self.clock.now())
        chosen = self.fleet.claim_nearest(location, task_id)
        task: dict[str, Any] = {
            "task_id": task_id,
            "alert_id": alert_id,
            "subscriber": subscriber,
            "unit_id": None,
            "location": location.model_dump() if location is not None else None,
            "created_at": iso(created),
            "target_arrival": iso(target_ts),
            "eta_s": None,
            "status": "escalated",
            "priority": priority,
            "reason": reason,
            "district": self.fleet.district_at(location),
            "station": None,
            "tried": [],
            "history": [],
        }
        self._assign(task, chosen, now)
        if not self.client.set(self.keys.task(task_id), dumps(task), nx=True):
            # another worker created it between our read and write: theirs stands
            if chosen is not None and self.require(task_id)["unit_id"] != chosen[0].unit_id:
                self.fleet.release(chosen[0].unit_id, task_id)
            return self.require(task_id), False
        with self.client.pipeline() as pipe:
            pipe.zadd(self.keys.tasks, {task_id: created})
            self._schedule(task, now, pipe)
            publish(pipe, self.keys, "task", task_id, task)
            pipe.execute()
        self._on_event("created", task)
        if task["status"] == "escalated":
            self._on_event("escalated", task)
        return task, True

    def _assign(
        self, task: dict[str, Any], chosen: tuple[UnitInfo, float] | None, now: float
    ) -> None:
        target_ts = epoch(task["target_arrival"])
        if chosen is None:
            task.update(unit_id=None, eta_s=None, station=None, status="escalated")
        else:
            unit, eta = chosen
            on_time = now + eta <= target_ts
            task.update(
                unit_id=unit.unit_id,
                eta_s=eta,
                station=unit.station,
                status="assigned" if on_time else "escalated",
            )
        task["assigned_at"] = iso(now)
        task["history"].append(
            {"status": task["status"], "unit_id": task["unit_id"], "at": iso(now)}
        )

    def _schedule(self, task: dict[str, Any], now: float, pipe: Pipeline) -> None:
        if task["unit_id"] is not None:
            due = now + self.config.ack_timeout_s
            self.timers.schedule("ack", task["task_id"], task["unit_id"], due, pipe)
        else:
            self.timers.schedule("retry", task["task_id"], "", now + RETRY_S, pipe)

    def _rewrite(
        self, task_id: str, change: Callable[[dict[str, Any], Pipeline], bool]
    ) -> dict[str, Any] | None:
        """Applies `change` to the task under WATCH; `change` returns False to leave it."""
        key = self.keys.task(task_id)

        def body(pipe: Pipeline) -> dict[str, Any] | None:
            raw = pipe.get(key)
            if raw is None:
                raise NotFound(f"no task {task_id!r}")
            task: dict[str, Any] = orjson.loads(raw)
            pipe.multi()
            if not change(task, pipe):
                pipe.discard()  # type: ignore[no-untyped-call]
                return None
            pipe.set(key, dumps(task))
            publish(pipe, self.keys, "task", task_id, task)
            return task

        return transact(self.client, [key], body)

    def report(
        self,
        task_id: str,
        status: str,
        *,
        unit_id: str | None = None,
        outcome: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        note: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """A unit's status report. Raises Invalid, NotFound or Conflict saying why."""
        if status not in UNIT_REPORTS:
            raise Invalid(f"status must be one of {', '.join(UNIT_REPORTS)}, got {status!r}")
        if status == "resolved" and outcome not in OUTCOMES:
            raise Invalid(f"resolved needs an outcome: one of {', '.join(OUTCOMES)}")
        if status != "resolved" and outcome is not None:
            raise Invalid("outcome is only given with status resolved")
        position = check_position(lat, lon)
        at = self.clock.now() if now is None else now

        def change(task: dict[str, Any], pipe: Pipeline) -> bool:
            if unit_id is not None and unit_id != task["unit_id"]:
                raise Conflict(f"task {task_id} is assigned to {task['unit_id']}, not {unit_id}")
            if task["unit_id"] is None:
                raise Conflict(f"task {task_id} has no unit yet")
            if task["status"] not in _FROM[status]:
                raise Conflict(
                    f"task {task_id} is {task['status']}; {status} follows "
                    + " or ".join(_FROM[status])
                )
            task["status"] = status
            task[f"{status}_at"] = iso(at)
            task["history"].append({"status": status, "unit_id": task["unit_id"], "at": iso(at)})
            if note:
                task["history"][-1]["note"] = note[:500]
            self.timers.cancel("ack", task_id, task["unit_id"], pipe)
            if status == "on_scene":
                task["arrival_s"] = round(at - epoch(task["created_at"]), 1)
                task["on_time"] = at <= epoch(task["target_arrival"])
            if status == "resolved":
                task["outcome"] = outcome
            return True

        task = self._rewrite(task_id, change)
        assert task is not None
        unit = task["unit_id"]
        where = position or (
            (task["location"]["lat"], task["location"]["lon"])
            if status == "resolved" and task["location"]
            else None
        )
        if where is not None:
            self.fleet.move(unit, *where)
        if status == "resolved":
            self.fleet.release(unit, task_id)
        self._on_event(status, task)
        return task

    def ack_timeout(self, task_id: str, unit_id: str, now: float) -> dict[str, Any] | None:
        """The unit did not acknowledge in time: the next nearest free unit gets the task."""
        task = self.task(task_id)
        if (
            task is None
            or task["unit_id"] != unit_id
            or task["status"] not in _FROM["acknowledged"]
        ):
            return None  # acknowledged meanwhile, or already moved on
        tried = [*task["tried"], unit_id]
        chosen = self.fleet.claim_nearest(_location(task), task_id, exclude=tried)

        def change(t: dict[str, Any], pipe: Pipeline) -> bool:
            if t["unit_id"] != unit_id or t["status"] not in _FROM["acknowledged"]:
                return False
            t["tried"] = tried
            self._assign(t, chosen, now)
            t["history"][-1]["reassigned_from"] = unit_id
            self._schedule(t, now, pipe)
            return True

        updated = self._rewrite(task_id, change)
        self.fleet.release(unit_id, task_id)
        if updated is None:
            if chosen is not None:
                self.fleet.release(chosen[0].unit_id, task_id)
            return None
        self._on_event("reassigned", updated)
        return updated

    def retry(self, task_id: str, now: float) -> dict[str, Any] | None:
        """An escalated task with no unit tries again; a unit freed meanwhile takes it."""
        task = self.task(task_id)
        if task is None or task["unit_id"] is not None or task["status"] != "escalated":
            return None
        chosen = self.fleet.claim_nearest(_location(task), task_id, exclude=task["tried"])

        def change(t: dict[str, Any], pipe: Pipeline) -> bool:
            if t["unit_id"] is not None or t["status"] != "escalated":
                return False
            if chosen is None:
                self.timers.schedule("retry", task_id, "", now + RETRY_S, pipe)
                return False
            self._assign(t, chosen, now)
            self._schedule(t, now, pipe)
            return True

        updated = self._rewrite(task_id, change)
        if updated is None and chosen is not None:
            self.fleet.release(chosen[0].unit_id, task_id)
        return updated


def _location(task: Mapping[str, Any]) -> Location | None:
    loc = task.get("location")
    return Location.model_validate(loc) if loc else None


__all__ = ["OUTCOMES", "UNIT_REPORTS", "DispatchService", "ServiceConfig", "parse_targets"]
