"""SLA figures from dispatch tasks: time to the door and the share that beat the target.

Dispatch-to-arrival is task creation to the unit's `on_scene` report; on time means on
scene by `target_arrival`. Figures are per district (the district of the responding
unit's station, or of the nearest unit when none was sent) and for the whole city.

>>> rows = [{"district": "Wuhou", "created_at": "2026-03-02T09:00:00+00:00",
...          "target_arrival": "2026-03-02T09:05:00+00:00", "status": "resolved",
...          "on_scene_at": "2026-03-02T09:04:00+00:00"}]
>>> report(rows).total.on_time_share
1.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fraud_warning.desk.store import epoch


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by linear interpolation (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class SlaRow:
    district: str
    tasks: int = 0
    escalated: int = 0  # created escalated: no unit could make the target
    reassigned: int = 0  # at least once: a unit did not acknowledge in time
    overdue: int = 0  # past target and nobody on scene yet
    arrival_s: list[float] = field(default_factory=list)
    on_time: int = 0

    @property
    def arrived(self) -> int:
        return len(self.arrival_s)

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.arrived if self.arrived else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "district": self.district,
            "tasks": self.tasks,
            "arrived": self.arrived,
            "on_time": self.on_time,
            "on_time_share": self.on_time_share,
            "arrival_p50_s": quantile(self.arrival_s, 0.5),
            "arrival_p90_s": quantile(self.arrival_s, 0.9),
            "arrival_max_s": max(self.arrival_s) if self.arrival_s else None,
            "escalated": self.escalated,
            "reassigned": self.reassigned,
            "overdue": self.overdue,
        }


@dataclass
class SlaReport:
    total: SlaRow
    districts: list[SlaRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "districts": [r.to_dict() for r in self.districts],
        }

    def render(self) -> str:
        head = (
            f"{'district':<14} {'tasks':>5} {'arrived':>7} {'on time':>8} "
            f"{'p50':>6} {'p90':>6} {'max':>6} {'escal.':>6} {'reass.':>6} {'overdue':>7}"
        )
        lines = [head]
        for row in [*self.districts, self.total]:
            d = row.to_dict()
            share = f"{d['on_time_share']:.0%}" if d["on_time_share"] is not None else "-"
            lines.append(
                f"{row.district:<14} {row.tasks:>5} {row.arrived:>7} {share:>8} "
                f"{_mins(d['arrival_p50_s']):>6} {_mins(d['arrival_p90_s']):>6} "
                f"{_mins(d['arrival_max_s']):>6} {row.escalated:>6} {row.reassigned:>6} "
                f"{row.overdue:>7}"
            )
        return "\n".join(lines)


def _mins(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def report(tasks: Iterable[Mapping[str, Any]], now: float | None = None) -> SlaReport:
    """SLA figures over task records (as the desk stores them); `now` finds overdue ones."""
    total = SlaRow("all")
    by_district: dict[str, SlaRow] = {}
    for task in tasks:
        district = str(task.get("district") or "unknown")
        row = by_district.setdefault(district, SlaRow(district))
        history = task.get("history") or []
        target = epoch(task["target_arrival"])
        for r in (row, total):
            r.tasks += 1
            if history and history[0].get("status") == "escalated":
                r.escalated += 1
            if any("reassigned_from" in h for h in history):
                r.reassigned += 1
        arrived_at = task.get("on_scene_at")
        if arrived_at:
            seconds = epoch(arrived_at) - epoch(task["created_at"])
            for r in (row, total):
                r.arrival_s.append(seconds)
                r.on_time += epoch(arrived_at) <= target
        elif now is not None and now > target and task.get("status") != "resolved":
            row.overdue += 1
            total.overdue += 1
    return SlaReport(total, [by_district[d] for d in sorted(by_district)])


__all__ = ["SlaReport", "SlaRow", "quantile", "report"]
