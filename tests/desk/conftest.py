"""Desk fixtures: the shared Redis under a unique key prefix per test, a fake clock, alerts.

Redis at 127.0.0.1:6379 is part of the machine (and CI): when it does not answer, the
tests fail saying so rather than skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from fraud_warning.desk.connection import connect
from fraud_warning.desk.keys import Keys
from fraud_warning.refdata import Unit

SHARED_REDIS = "redis://127.0.0.1:6379/0"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SQUARE = (30.6570, 104.0657)
M_PER_DEG_LAT = 111_195.0


class FakeClock:
    """A clock the test moves by hand, so 60-second deadlines pass in microseconds."""

    def __init__(self, start: datetime = T0) -> None:
        self.ts = start.timestamp()

    def now(self) -> float:
        return self.ts

    def advance(self, seconds: float) -> float:
        self.ts += seconds
        return self.ts


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    r = connect(SHARED_REDIS)
    try:
        r.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at {SHARED_REDIS} is not answering ({exc}); start redis-server")
    yield r
    r.close()


@pytest.fixture
def keys(client: redis.Redis) -> Iterator[Keys]:
    prefix = f"fwtest-{uuid.uuid4().hex[:12]}"
    yield Keys(prefix)
    stale = list(client.scan_iter(match=f"{prefix}:*", count=500))
    if stale:
        client.delete(*stale)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def north(metres: float) -> tuple[float, float]:
    return SQUARE[0] + metres / M_PER_DEG_LAT, SQUARE[1]


def unit(unit_id: str, metres_north: float, station: str = "Jinjiang PS 1") -> Unit:
    lat, lon = north(metres_north)
    return Unit(unit_id, station, lat, lon)


def make_alert(
    alert_id: str = "A-1",
    *,
    revision: int = 1,
    priority: str = "P2",
    score: float = 0.8,
    subscriber: str = "+8613800000001",
    event_ts: datetime = T0,
    models: list[dict[str, Any]] | None = None,
    metres_north: float = 0.0,
) -> dict[str, Any]:
    lat, lon = north(metres_north)
    return {
        "alert_id": alert_id,
        "revision": revision,
        "subscriber": subscriber,
        "score": score,
        "priority": priority,
        "typology": "impersonating_police",
        "models": models
        or [{"id": "long-risky-call", "version": 2, "score": score, "reasons": ["a long call"]}],
        "evidence": [f"e-{alert_id}-{revision}"],
        "event_ts": event_ts.isoformat(),
        "emitted_at": (event_ts + timedelta(seconds=1)).isoformat(),
        "location": {"lat": lat, "lon": lon, "source": "cell"},
    }


@pytest.fixture
def make_desk(client: redis.Redis, keys: Keys, clock: FakeClock) -> Any:
    """Builds a Desk on the test's prefix with the given units (subscribers optional)."""
    from fraud_warning.desk.metrics import DeskMetrics
    from fraud_warning.desk.service import Desk

    def build(units: tuple[Unit, ...] = (), **kwargs: Any) -> Desk:
        return Desk(client, keys=keys, clock=clock, metrics=DeskMetrics(), units=units, **kwargs)

    return build
