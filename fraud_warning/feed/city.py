"""Geography of a Chengdu-like city: districts, cell sites, homes and police units.

About 40 km across around Tianfu Square (30.66 N, 104.06 E). Cells follow population
density, so they are packed in the centre and sparse at the edge; each cell serves a
similar number of subscribers, and the number of cells scales with the subscribers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CENTRE = (30.66, 104.06)
HALF_SPAN_KM = 20.5
KM_PER_DEG_LAT = 111.0
KM_PER_DEG_LON = 111.0 * math.cos(math.radians(CENTRE[0]))

# (name, lat, lon, relative population) of the districts within ~20 km of the centre.
DISTRICTS = (
    ("Jinjiang", 30.657, 104.083, 1.0),
    ("Qingyang", 30.674, 104.061, 1.0),
    ("Jinniu", 30.691, 104.052, 1.1),
    ("Wuhou", 30.642, 104.043, 1.2),
    ("Chenghua", 30.660, 104.102, 1.0),
    ("Gaoxin", 30.585, 104.065, 1.2),
    ("Tianfu", 30.530, 104.075, 0.7),
    ("Shuangliu", 30.574, 103.923, 0.8),
    ("Pidu", 30.795, 103.887, 0.7),
    ("Wenjiang", 30.683, 103.856, 0.6),
    ("Xindu", 30.824, 104.158, 0.7),
    ("Longquanyi", 30.557, 104.233, 0.6),
)

SUBSCRIBERS_PER_CELL = 250
SUBSCRIBERS_PER_UNIT = 1000
MIN_UNITS = 90
MIN_STATIONS = 30


@dataclass(frozen=True)
class City:
    cell_ids: list[str]
    cell_lat: npt.NDArray[np.float64]
    cell_lon: npt.NDArray[np.float64]
    cell_home_weight: npt.NDArray[np.float64]  # how residential a cell is
    cell_work_weight: npt.NDArray[np.float64]  # how many jobs it holds (central-heavy)
    unit_ids: list[str]
    unit_station: list[str]
    unit_lat: npt.NDArray[np.float64]
    unit_lon: npt.NDArray[np.float64]

    @property
    def n_cells(self) -> int:
        return len(self.cell_ids)


def _scatter(
    rng: np.random.Generator,
    n: int,
    centre_share: float,
    centre_sd_km: float,
    district_sd_km: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Points (km offsets from the centre) from a centre blob plus district blobs."""
    weights = np.asarray([d[3] for d in DISTRICTS])
    district = rng.choice(len(DISTRICTS), size=n, p=weights / weights.sum())
    d_y = (np.asarray([d[1] for d in DISTRICTS]) - CENTRE[0]) * KM_PER_DEG_LAT
    d_x = (np.asarray([d[2] for d in DISTRICTS]) - CENTRE[1]) * KM_PER_DEG_LON
    central = rng.random(n) < centre_share
    sd = np.where(central, centre_sd_km, district_sd_km)
    y = np.where(central, 0.0, d_y[district]) + rng.normal(0.0, 1.0, n) * sd
    x = np.where(central, 0.0, d_x[district]) + rng.normal(0.0, 1.0, n) * sd
    return np.clip(y, -HALF_SPAN_KM, HALF_SPAN_KM), np.clip(x, -HALF_SPAN_KM, HALF_SPAN_KM)


def build_city(subscribers: int, rng: np.random.Generator) -> City:
    n_cells = max(24, round(subscribers / SUBSCRIBERS_PER_CELL))
    y, x = _scatter(rng, n_cells, centre_share=0.35, centre_sd_km=3.5, district_sd_km=2.8)
    lat = CENTRE[0] + y / KM_PER_DEG_LAT
    lon = CENTRE[1] + x / KM_PER_DEG_LON
    dist = np.hypot(y, x)
    home_w = rng.lognormal(0.0, 0.45, n_cells)
    # Jobs concentrate in the core and the Gaoxin tech zone.
    gaoxin = np.hypot(y - (30.585 - CENTRE[0]) * KM_PER_DEG_LAT, x)
    work_w = rng.lognormal(0.0, 0.6, n_cells) * (
        0.3 + 2.0 * np.exp(-dist / 5.0) + 1.2 * np.exp(-gaoxin / 3.0)
    )
    cell_ids = [f"C{k:05d}" for k in range(n_cells)]

    # The police cover the city's area whatever share of its subscribers a feed samples:
    # a 5-minute door target needs a unit within about 2 km, so small feeds keep a floor.
    n_units = max(MIN_UNITS, round(subscribers / SUBSCRIBERS_PER_UNIT))
    n_stations = min(n_units, max(MIN_STATIONS, round(n_units / 3)))
    pop_w = np.asarray([d[3] for d in DISTRICTS])
    # Every district gets a station before any gets a second one.
    base = np.arange(min(n_stations, len(DISTRICTS)))
    extra = rng.choice(len(DISTRICTS), size=n_stations - len(base), p=pop_w / pop_w.sum())
    st_district = np.concatenate([base, extra]).astype(np.int64)
    st_lat = np.asarray([DISTRICTS[d][1] for d in st_district.tolist()]) + rng.normal(
        0.0, 2.0 / KM_PER_DEG_LAT, n_stations
    )
    st_lon = np.asarray([DISTRICTS[d][2] for d in st_district.tolist()]) + rng.normal(
        0.0, 2.0 / KM_PER_DEG_LON, n_stations
    )
    seen: dict[int, int] = {}
    st_names: list[str] = []
    for d in st_district.tolist():
        seen[d] = seen.get(d, 0) + 1
        st_names.append(f"{DISTRICTS[d][0]} PS {seen[d]}")
    unit_station = np.arange(n_units) % n_stations
    # Units patrol around their station rather than sit in it.
    u_lat = st_lat[unit_station] + rng.normal(0.0, 0.8 / KM_PER_DEG_LAT, n_units)
    u_lon = st_lon[unit_station] + rng.normal(0.0, 0.8 / KM_PER_DEG_LON, n_units)
    u_lat, u_lon = _clip(u_lat, u_lon)
    return City(
        cell_ids=cell_ids,
        cell_lat=lat,
        cell_lon=lon,
        cell_home_weight=home_w,
        cell_work_weight=work_w,
        unit_ids=[f"U{k:04d}" for k in range(1, n_units + 1)],
        unit_station=[st_names[s] for s in unit_station.tolist()],
        unit_lat=u_lat,
        unit_lon=u_lon,
    )


def _clip(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Keep positions inside the city's square (homes and patrols near the edge)."""
    dlat, dlon = HALF_SPAN_KM / KM_PER_DEG_LAT, HALF_SPAN_KM / KM_PER_DEG_LON
    return (
        np.clip(lat, CENTRE[0] - dlat, CENTRE[0] + dlat),
        np.clip(lon, CENTRE[1] - dlon, CENTRE[1] + dlon),
    )


def _pick(
    rng: np.random.Generator, weights: npt.NDArray[np.float64], n: int
) -> npt.NDArray[np.int32]:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, len(weights) - 1).astype(np.int32)


def place_homes(
    city: City, n: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Home cell of each subscriber and a home position a few hundred metres from it."""
    cell = _pick(rng, city.cell_home_weight, n)
    lat = city.cell_lat[cell] + rng.normal(0.0, 0.35 / KM_PER_DEG_LAT, n)
    lon = city.cell_lon[cell] + rng.normal(0.0, 0.35 / KM_PER_DEG_LON, n)
    lat, lon = _clip(lat, lon)
    return cell, lat, lon


def pick_work_cells(city: City, n: int, rng: np.random.Generator) -> npt.NDArray[np.int32]:
    return _pick(rng, city.cell_work_weight, n)


def random_cells(city: City, m: int, rng: np.random.Generator) -> npt.NDArray[np.int32]:
    """Cells of people out and about (errands, visits): anywhere, centre-heavy."""
    return _pick(rng, city.cell_work_weight + city.cell_home_weight, m)
