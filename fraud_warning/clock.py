"""Clocks: the engine never reads the wall clock directly.

The embedded runner drives an :class:`EventClock` from event time, so a replay of
a feed gives byte-identical alerts; services use :class:`WallClock`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()


class EventClock:
    """Processing time follows the newest event time seen (the watermark)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def advance(self, ts: float) -> None:
        if ts > self._now:
            self._now = ts

    def now(self) -> float:
        return self._now


def to_datetime(ts: float, tz: datetime | None = None) -> datetime:
    """Epoch seconds to an aware datetime (UTC unless a reference datetime's zone is given)."""
    zone = tz.tzinfo if tz is not None and tz.tzinfo is not None else UTC
    return datetime.fromtimestamp(ts, tz=zone)


__all__ = ["Clock", "EventClock", "WallClock", "to_datetime"]
