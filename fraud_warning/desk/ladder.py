"""The escalation ladder, as anti-fraud centres run it: SMS, then a phone call, then the door.

Each tier enters the ladder at its own rung: P3 gets a warning SMS at once, P2 a warning
phone call from the desk, P1 a door visit. Every rung has a deadline; when it passes
unanswered the next rung opens. A rung is answered by what shows a person has dealt with
the warning:

- `sms`: the desk acknowledges the alert, marks the subscriber warned, or dismisses it;
- `phone`: the desk marks the subscriber warned by phone, or dismisses the alert;
- `door`: the unit reports on scene (its deadline is the task's target arrival).

A rung only ever opens upward: new evidence that raises an alert to P1 opens the door
rung; a phone rung also opens beside the door as the fallback when no unit can make it.

>>> LadderConfig().first_step["P2"]
'phone'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
import redis
from redis.client import Pipeline

from fraud_warning.desk.keys import Keys
from fraud_warning.desk.metrics import DeskMetrics
from fraud_warning.desk.store import dumps, iso, publish, text_map, transact
from fraud_warning.desk.timers import Timers

STEPS = ("sms", "phone", "door")


def _first_steps() -> Mapping[str, str]:
    return MappingProxyType({"P3": "sms", "P2": "phone", "P1": "door"})


def _deadlines() -> Mapping[str, float]:
    # sms: 10 min for the desk to pick it up; phone: 5 min to get through; door: the target.
    return MappingProxyType({"sms": 600.0, "phone": 300.0, "door": 300.0})


@dataclass(frozen=True)
class LadderConfig:
    """Which rung each priority starts on, and each rung's deadline in seconds."""

    first_step: Mapping[str, str] = field(default_factory=_first_steps)
    deadlines_s: Mapping[str, float] = field(default_factory=_deadlines)

    def __post_init__(self) -> None:
        for priority, step in self.first_step.items():
            if step not in STEPS:
                raise ValueError(f"first_step[{priority!r}] = {step!r}: expected one of {STEPS}")
        for step in STEPS:
            if not self.deadlines_s.get(step, 0) > 0:
                raise ValueError(f"deadlines_s[{step!r}] must be > 0")


def next_step(step: str) -> str | None:
    i = STEPS.index(step)
    return STEPS[i + 1] if i + 1 < len(STEPS) else None


class Ladder:
    """Rung state per alert in a Redis hash (step → JSON), deadlines as timers."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        timers: Timers,
        metrics: DeskMetrics,
        config: LadderConfig | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.timers = timers
        self.metrics = metrics
        self.config = config or LadderConfig()

    def steps(self, alert_id: str) -> dict[str, dict[str, Any]]:
        held = text_map(self.client.hgetall(self.keys.ladder(alert_id)))
        return {s: orjson.loads(held[s]) for s in STEPS if s in held}

    def entry(self, priority: str) -> str | None:
        return self.config.first_step.get(priority)

    def needs(self, alert_id: str, priority: str) -> str | None:
        """The rung a (new) priority starts on, unless that rung or a higher one is held."""
        step = self.entry(priority)
        if step is None:
            return None
        held = self.steps(alert_id)
        if any(STEPS.index(s) >= STEPS.index(step) for s in held):
            return None
        return step

    def open(
        self,
        alert_id: str,
        step: str,
        now: float,
        *,
        reason: str,
        deadline: float | None = None,
    ) -> bool:
        """Opens a rung; False when it was opened before (rungs never reopen)."""
        key = self.keys.ladder(alert_id)
        due = deadline if deadline is not None else now + self.config.deadlines_s[step]

        def body(pipe: Pipeline) -> bool:
            if pipe.hexists(key, step):
                return False
            record = {
                "step": step,
                "status": "open",
                "reason": reason,
                "opened_at": iso(now),
                "deadline": iso(due),
            }
            pipe.multi()
            pipe.hset(key, step, dumps(record))
            self.timers.schedule("ladder", alert_id, step, due, pipe)
            publish(pipe, self.keys, "ladder", alert_id, {"alert_id": alert_id, **record})
            return True

        opened = transact(self.client, [key], body)
        if opened:
            self.metrics.ladder.labels(step, "opened").inc()
        return opened

    def close(
        self, alert_id: str, steps: Iterable[str], now: float, *, status: str, by: str
    ) -> list[str]:
        """Marks open rungs `answered` (or `cancelled`); returns those it closed."""
        key = self.keys.ladder(alert_id)
        wanted = tuple(steps)

        def body(pipe: Pipeline) -> list[str]:
            held = text_map(pipe.hgetall(key))
            closing = [s for s in wanted if s in held and orjson.loads(held[s])["status"] == "open"]
            if not closing:
                return []
            pipe.multi()
            for step in closing:
                record = {**orjson.loads(held[step]), "status": status, "closed_at": iso(now)}
                record["by"] = by
                pipe.hset(key, step, dumps(record))
                self.timers.cancel("ladder", alert_id, step, pipe)
                publish(pipe, self.keys, "ladder", alert_id, {"alert_id": alert_id, **record})
            return closing

        closed = transact(self.client, [key], body)
        for step in closed:
            self.metrics.ladder.labels(step, status).inc()
        return closed

    def expire(self, alert_id: str, step: str, now: float) -> str | None:
        """The rung's deadline passed: if it is still open, mark it and name the next rung."""
        if not self.close(alert_id, [step], now, status="expired", by="deadline"):
            return None
        return next_step(step)


__all__ = ["STEPS", "Ladder", "LadderConfig", "next_step"]
