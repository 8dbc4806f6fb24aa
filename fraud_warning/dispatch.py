"""Police dispatch: send the nearest free unit to an urgent alert's location.

A plain in-memory object, deterministic in event time: every call passes `now` (the
alert's event-time clock), nothing reads a wall clock, so replaying a feed gives the same
tasks. ETA is the straight-line (haversine) distance times a road factor, at an urban
response speed. Unit state lives here for now; the shared Redis-backed service replaces
it when several workers dispatch.

>>> from datetime import UTC, datetime
>>> from fraud_warning.contracts import Location
>>> from fraud_warning.refdata import Unit
>>> d = Dispatcher([Unit("U1", "Jinjiang", 30.657, 104.066)])
>>> task = d.dispatch(alert_id="A1", subscriber="+8613800000000", priority="P1",
...                   location=Location(lat=30.660, lon=104.066, source="cell"),
...                   now=datetime(2024, 5, 1, 9, 0, tzinfo=UTC))
>>> task.unit_id, task.status, task.eta_s
('U1', 'assigned', 56.0)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from fraud_warning.contracts import DispatchTask, Location, TaskStatus
from fraud_warning.geo import haversine_m_many
from fraud_warning.refdata import Unit


def _default_targets() -> Mapping[str, float]:
    return MappingProxyType({"P1": 300.0})


@dataclass(frozen=True)
class DispatchConfig:
    """How ETAs are estimated and which priorities dispatch.

    Only priorities named in `targets_s` dispatch; the others stay on the desk.
    """

    # Road distance / straight-line distance; ~1.3-1.5 in grid-like Chinese city centres.
    road_factor: float = 1.4
    # Urban response speed in km/h, lights and sirens through traffic.
    speed_kmh: float = 30.0
    # Seconds from task creation to the officer at the door, per priority.
    targets_s: Mapping[str, float] = field(default_factory=_default_targets)
    # Seconds a unit stays busy after arriving, before it can take another task.
    on_scene_s: float = 1200.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.road_factor) and self.road_factor >= 1.0):
            raise ValueError(f"road_factor must be >= 1, got {self.road_factor}")
        if not (math.isfinite(self.speed_kmh) and self.speed_kmh > 0):
            raise ValueError(f"speed_kmh must be > 0, got {self.speed_kmh}")
        if not (math.isfinite(self.on_scene_s) and self.on_scene_s >= 0):
            raise ValueError(f"on_scene_s must be >= 0, got {self.on_scene_s}")
        for priority, target in self.targets_s.items():
            if not (math.isfinite(target) and target > 0):
                raise ValueError(f"targets_s[{priority!r}] must be > 0, got {target}")
        # Copy and freeze, so a caller mutating its dict cannot change a running dispatcher.
        object.__setattr__(self, "targets_s", MappingProxyType(dict(self.targets_s)))


def etas_s(
    location: Location,
    lats: npt.NDArray[np.float64],
    lons: npt.NDArray[np.float64],
    config: DispatchConfig,
) -> npt.NDArray[np.float64]:
    """Drive time in seconds from each unit (`lats[i]`, `lons[i]`) to `location`.

    Shared by this in-memory dispatcher and the Redis-backed desk service, so both send
    the same unit for the same positions.
    """
    distance_m = haversine_m_many(location.lat, location.lon, lats, lons)
    result: npt.NDArray[np.float64] = distance_m * config.road_factor / (config.speed_kmh / 3.6)
    return result


def usable(location: Location | None) -> bool:
    """True when a location can be driven to (known and finite)."""
    return location is not None and math.isfinite(location.lat) and math.isfinite(location.lon)


# "Jinjiang PS 1", "Wuhou Police Station 2", "Gaoxin 3" → the district before the suffix.
_STATION_SUFFIX = re.compile(r"\s+(?:PS|police\s+station|station)?\s*\d*\s*$", re.IGNORECASE)


def district_of(station: str) -> str:
    """The district a police station serves, read from its name; SLA figures group by it.

    >>> district_of("Jinjiang PS 1"), district_of("Wuhou"), district_of("")
    ('Jinjiang', 'Wuhou', 'unknown')
    """
    name = _STATION_SUFFIX.sub("", station.strip())
    return name or station.strip() or "unknown"


class Dispatcher:
    """Assigns the nearest free unit by ETA; ties go to the smallest `unit_id`.

    Dispatching is idempotent per `alert_id`: alerts are re-emitted with higher revisions
    and delivery is at-least-once, so a repeat returns the first task and sends no
    second unit.
    """

    def __init__(self, units: Sequence[Unit], config: DispatchConfig | None = None) -> None:
        self.config = config or DispatchConfig()
        # Sorted by id, so argmin's first-minimum rule is the documented tie-break.
        ordered = sorted(units, key=lambda unit: unit.unit_id)
        ids = [unit.unit_id for unit in ordered]
        duplicates = sorted(uid for uid, count in Counter(ids).items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate unit_id(s): {', '.join(duplicates)}")
        self._unit_ids = ids
        self._index = {uid: i for i, uid in enumerate(ids)}
        self._lats = np.array([unit.lat for unit in ordered], dtype=np.float64)
        self._lons = np.array([unit.lon for unit in ordered], dtype=np.float64)
        # Event-time POSIX seconds until which each unit is busy; -inf means free.
        self._busy_until = np.full(len(ordered), -np.inf, dtype=np.float64)
        self._tasks: dict[str, DispatchTask] = {}

    def dispatch(
        self,
        *,
        alert_id: str,
        subscriber: str,
        priority: str,
        location: Location | None,
        now: datetime,
    ) -> DispatchTask:
        """Creates the task for one alert at event time `now` (tz-aware).

        `assigned` when the nearest free unit's ETA meets the priority's target; otherwise
        `escalated`, still sending that unit, or with no unit when none is free or the
        location is unknown. Raises ValueError for a priority without a target.
        """
        target_s = self.config.targets_s.get(priority)
        if target_s is None:
            valid = ", ".join(sorted(self.config.targets_s))
            raise ValueError(f"priority {priority!r} does not dispatch (dispatching: {valid})")
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (event time)")
        existing = self._tasks.get(alert_id)
        if existing is not None:
            return existing

        unit_id: str | None = None
        eta_s: float | None = None
        now_ts = now.timestamp()
        chosen = self._nearest_free(location, now_ts)
        if chosen is not None:
            index, eta = chosen
            unit_id = self._unit_ids[index]
            # Compare the rounded ETA the task shows, so `eta_s <= target` matches `status`.
            eta_s = round(eta, 1)
            self._busy_until[index] = now_ts + eta + self.config.on_scene_s
        status: TaskStatus = "assigned" if eta_s is not None and eta_s <= target_s else "escalated"
        task = DispatchTask(
            task_id=f"T-{alert_id}",
            alert_id=alert_id,
            subscriber=subscriber,
            unit_id=unit_id,
            location=location,
            created_at=now,
            target_arrival=now + timedelta(seconds=target_s),
            eta_s=eta_s,
            status=status,
        )
        self._tasks[alert_id] = task
        return task

    def _nearest_free(self, location: Location | None, now_ts: float) -> tuple[int, float] | None:
        """(unit index, ETA in seconds) of the nearest free unit, or None if there is none."""
        if location is None or not usable(location):
            return None
        free = self._busy_until <= now_ts
        if not free.any():
            return None
        eta = np.where(free, etas_s(location, self._lats, self._lons, self.config), np.inf)
        index = int(np.argmin(eta))
        return index, float(eta[index])

    def busy_until(self, unit_id: str) -> datetime | None:
        """Event time (UTC) when `unit_id` becomes free again; None if it has never gone.

        Raises KeyError for an unknown unit.
        """
        until = float(self._busy_until[self._index[unit_id]])
        if until == -np.inf:
            return None
        return datetime.fromtimestamp(until, tz=UTC)

    def task(self, alert_id: str) -> DispatchTask | None:
        """The task already created for `alert_id`, if any."""
        return self._tasks.get(alert_id)

    def forget(self, keep: set[str]) -> int:
        """Drop the tasks of alerts not in `keep` (their incidents closed: no revision of
        them can ask for a task again); returns how many went. Without it every task of
        a long run stayed in memory."""
        gone = [alert_id for alert_id in self._tasks if alert_id not in keep]
        for alert_id in gone:
            del self._tasks[alert_id]
        return len(gone)

    def __len__(self) -> int:
        return len(self._tasks)


__all__ = ["DispatchConfig", "Dispatcher", "district_of", "etas_s", "usable"]
