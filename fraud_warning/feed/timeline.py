"""Event time of a feed: hour-aligned chunks, the diurnal rhythm and timestamp text.

All times inside the generator are whole seconds since the feed's start; text is made
only when writing, as `YYYY-MM-DDTHH:MM:SS+08:00` (the city is on China Standard Time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt

CST = timezone(timedelta(hours=8))
DEFAULT_START = datetime(2026, 3, 2, tzinfo=CST)  # a Monday

# Relative activity by clock hour (mean 1): quiet 1-5 h, peaks late morning and evening.
_DIURNAL_RAW = (
    0.42, 0.22, 0.13, 0.10, 0.10, 0.18, 0.45, 0.85, 1.25, 1.50, 1.72, 1.70,
    1.35, 1.25, 1.45, 1.50, 1.48, 1.42, 1.35, 1.52, 1.62, 1.45, 1.05, 0.68,
)  # fmt: skip
DIURNAL: npt.NDArray[np.float64] = np.asarray(_DIURNAL_RAW) / np.mean(_DIURNAL_RAW)

# Fraud call centres keep office shifts (with a long evening tail), not the city's rhythm.
_FRAUD_RAW = (
    0.10, 0.04, 0.02, 0.02, 0.02, 0.05, 0.15, 0.45, 0.90, 1.50, 1.80, 1.70,
    1.20, 1.30, 1.70, 1.75, 1.65, 1.40, 1.20, 1.40, 1.50, 1.30, 0.90, 0.40,
)  # fmt: skip
FRAUD_HOURS: npt.NDArray[np.float64] = np.asarray(_FRAUD_RAW) / np.mean(_FRAUD_RAW)

_MMSS = tuple(f":{s // 60:02d}:{s % 60:02d}+08:00".encode() for s in range(3600))


@dataclass(frozen=True, slots=True)
class Chunk:
    """A slice of the feed inside one clock hour: events with `t0 <= ts < t1`."""

    index: int
    t0: int
    t1: int
    hour: int  # clock hour of day, 0..23
    weekday: int  # 0 = Monday
    day: int  # day of month
    month: int
    prefix: str  # "2026-03-02T08", the shared head of every timestamp in the chunk

    @property
    def seconds(self) -> int:
        return self.t1 - self.t0

    @property
    def fraction(self) -> float:
        """Share of a full hour that the chunk covers (the first and last may be partial)."""
        return (self.t1 - self.t0) / 3600.0

    @property
    def workday(self) -> bool:
        return self.weekday < 5

    @property
    def working_hours(self) -> bool:
        return self.workday and 9 <= self.hour < 18


class Timeline:
    """Maps second offsets to wall-clock facts for a feed starting at `start`."""

    def __init__(self, start: datetime, total_s: int) -> None:
        self.start = start.astimezone(CST).replace(microsecond=0)
        self.total_s = total_s
        self._sod = self.start.hour * 3600 + self.start.minute * 60 + self.start.second
        chunks: list[Chunk] = []
        t = 0
        while t < total_s:
            wall = self.start + timedelta(seconds=t)
            to_next_hour = 3600 - (wall.minute * 60 + wall.second)
            t1 = min(total_s, t + to_next_hour)
            chunks.append(
                Chunk(
                    index=len(chunks),
                    t0=t,
                    t1=t1,
                    hour=wall.hour,
                    weekday=wall.weekday(),
                    day=wall.day,
                    month=wall.month,
                    prefix=wall.strftime("%Y-%m-%dT%H"),
                )
            )
            t = t1
        self.chunks: tuple[Chunk, ...] = tuple(chunks)
        self.bounds: npt.NDArray[np.int64] = np.asarray(
            [c.t0 for c in chunks] + [total_s], dtype=np.int64
        )

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.total_s)

    def text(self, t: int) -> str:
        """RFC 3339 text of offset `t`, identical to what the writer puts in events."""
        return (self.start + timedelta(seconds=t)).isoformat()

    def table(self, chunk: Chunk) -> npt.NDArray[np.object_]:
        """Timestamp text (UTF-8) for every second of a chunk (index = ts - chunk.t0)."""
        first = (self._sod + chunk.t0) % 3600
        prefix = chunk.prefix.encode()
        out = np.empty(chunk.seconds, dtype=object)
        out[:] = [prefix + _MMSS[first + k] for k in range(chunk.seconds)]
        return out

    def hour_of(self, t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return ((self._sod + t) // 3600) % 24

    def workday_of(self, t: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        days = (self._sod + t) // 86400
        result: npt.NDArray[np.bool_] = (self.start.weekday() + days) % 7 < 5
        return result

    def clock(self, t: npt.NDArray[np.int64]) -> list[str]:
        """`MM月DD日HH:MM` of each offset, as banks print it in their notices."""
        secs = self._sod + t
        days = np.datetime64(self.start.date(), "D") + (secs // 86400).astype("timedelta64[D]")
        month = days.astype("datetime64[M]")
        mm = (month.astype(np.int64) % 12 + 1).tolist()
        dd = ((days - month.astype("datetime64[D]")).astype(np.int64) + 1).tolist()
        hh = ((secs // 3600) % 24).tolist()
        mi = ((secs // 60) % 60).tolist()
        return [
            f"{a:02d}月{b:02d}日{c:02d}:{d:02d}" for a, b, c, d in zip(mm, dd, hh, mi, strict=True)
        ]

    def working_of(self, t: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """True where offset `t` falls in office hours (weekday, 9-18 h)."""
        hour = self.hour_of(t)
        result: npt.NDArray[np.bool_] = self.workday_of(t) & (hour >= 9) & (hour < 18)
        return result

    def sample_times(
        self,
        rng: np.random.Generator,
        n: int,
        profile: npt.NDArray[np.float64],
        lo: int = 0,
        hi: int | None = None,
    ) -> npt.NDArray[np.int64]:
        """`n` offsets in `[lo, hi)` drawn with density following an hourly `profile`."""
        hi = self.total_s if hi is None else hi
        if hi <= lo:
            return np.full(n, lo, dtype=np.int64)
        # Cut [lo, hi) at clock-hour edges, weight each piece by its length and hour.
        edges = np.unique(
            np.concatenate([[lo, hi], np.arange(lo - (self._sod + lo) % 3600 + 3600, hi, 3600)])
        ).astype(np.int64)
        starts, ends = edges[:-1], edges[1:]
        weights = (ends - starts) * profile[self.hour_of(starts)]
        piece = np.searchsorted(np.cumsum(weights) / weights.sum(), rng.random(n), side="right")
        piece = np.minimum(piece, len(starts) - 1)
        span = ends[piece] - starts[piece]
        return (starts[piece] + (rng.random(n) * span).astype(np.int64)).astype(np.int64)
