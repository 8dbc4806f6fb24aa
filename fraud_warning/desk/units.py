"""Police units on Redis: positions, stations, districts, and who is busy.

A unit is busy while its claim key exists (`SET NX` with the task id): claiming is atomic
across workers, so one unit never gets two tasks, and a replay of the same task finds its
own claim instead of taking a second unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import redis
from redis.client import Pipeline

from fraud_warning.contracts import Location
from fraud_warning.desk.errors import Invalid
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import dumps, text, text_map, transact
from fraud_warning.dispatch import DispatchConfig, district_of, etas_s, usable
from fraud_warning.refdata import Unit


@dataclass(frozen=True, slots=True)
class UnitInfo:
    unit_id: str
    station: str
    district: str
    lat: float
    lon: float


class Fleet:
    """The units under `keys`; ETAs by `config` (road factor and speed)."""

    def __init__(self, client: redis.Redis, keys: Keys, config: DispatchConfig) -> None:
        self.client = client
        self.keys = keys
        self.config = config

    def load_units(self, units: Sequence[Unit]) -> int:
        """Adds units not yet known (a known unit keeps its reported position)."""
        added = 0
        for u in units:
            info = {"station": u.station, "district": district_of(u.station)}
            added += int(
                self.client.hsetnx(
                    self.keys.units, u.unit_id, dumps({**info, "lat": u.lat, "lon": u.lon})
                )
            )
        return added

    def units(self) -> list[UnitInfo]:
        held = text_map(self.client.hgetall(self.keys.units))
        out = []
        for unit_id in sorted(held):
            d = orjson.loads(held[unit_id])
            out.append(UnitInfo(unit_id, d["station"], d["district"], d["lat"], d["lon"]))
        return out

    def busy(self) -> dict[str, str]:
        """Unit id → the task it is busy with."""
        units = self.units()
        claims = self.client.mget([self.keys.claim(u.unit_id) for u in units]) if units else []
        return {u.unit_id: text(c) for u, c in zip(units, claims, strict=True) if c is not None}

    def district_at(self, location: Location | None) -> str:
        """The district of the unit nearest to `location` (where its station is)."""
        units = self.units()
        if not units or location is None or not usable(location):
            return "unknown"
        lats = np.array([u.lat for u in units])
        lons = np.array([u.lon for u in units])
        return units[int(np.argmin(etas_s(location, lats, lons, self.config)))].district

    def claim_nearest(
        self, location: Location | None, task_id: str, exclude: Iterable[str] = ()
    ) -> tuple[UnitInfo, float] | None:
        """Claims the nearest free unit by ETA (ties: smallest id) for `task_id`."""
        if location is None or not usable(location):
            return None
        skip = set(exclude)
        units = [u for u in self.units() if u.unit_id not in skip]
        if not units:
            return None
        claims = self.client.mget([self.keys.claim(u.unit_id) for u in units])
        lats = np.array([u.lat for u in units])
        lons = np.array([u.lon for u in units])
        eta = etas_s(location, lats, lons, self.config)
        for i in sorted(range(len(units)), key=lambda i: (float(eta[i]), units[i].unit_id)):
            held = claims[i]
            if held is not None and text(held) != task_id:
                continue  # busy with another task
            key = self.keys.claim(units[i].unit_id)
            # NX: another worker may have claimed it since the MGET; a replay finds its own.
            if (
                self.client.set(key, task_id, nx=True)
                or text(self.client.get(key) or "") == task_id
            ):
                return units[i], round(float(eta[i]), 1)
        return None

    def release(self, unit_id: str, task_id: str) -> None:
        key = self.keys.claim(unit_id)

        def body(pipe: Pipeline) -> None:
            if text(pipe.get(key) or "") == task_id:
                pipe.multi()
                pipe.delete(key)

        transact(self.client, [key], body)

    def move(self, unit_id: str, lat: float, lon: float) -> None:
        raw = self.client.hget(self.keys.units, unit_id)
        if raw is not None:
            info = {**orjson.loads(raw), "lat": lat, "lon": lon}
            self.client.hset(self.keys.units, unit_id, dumps(info))


def check_position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise Invalid("give both lat and lon, or neither")
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if not (math.isfinite(value) and -limit <= value <= limit):
            raise Invalid(f"{name} must be a number in [-{limit:g}, {limit:g}], got {value}")
    return lat, lon


__all__ = ["Fleet", "UnitInfo", "check_position"]
