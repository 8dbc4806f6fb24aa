"""Great-circle distances in metres, for one pair or one point against many.

Dispatch compares a victim's location with every police unit in a city (hundreds), so the
many-points form is vectorised with numpy; the scalar form uses :mod:`math`, which is
several times faster than numpy for a single pair.

>>> round(haversine_m(0.0, 0.0, 0.0, 1.0))  # one degree of longitude on the equator
111195
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

# IUGG mean Earth radius. The sphere is off by up to ~0.5% against the ellipsoid, far
# below what a road factor and an urban speed estimate already blur.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in decimal degrees."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = math.radians(lon2 - lon1) / 2.0
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    # Rounding can push `a` a hair above 1 for near-antipodal points; asin would then fail.
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def haversine_m_many(
    lat: float,
    lon: float,
    lats: npt.ArrayLike,
    lons: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """Distances in metres from one point (`lat`, `lon`) to each of `lats[i]`, `lons[i]`.

    The result has the shape of `lats` (which must match `lons`); an empty input gives an
    empty array.

    >>> haversine_m_many(0.0, 0.0, np.array([0.0, 0.0]), np.array([0.0, 1.0])).round()
    array([     0., 111195.])
    """
    lats_a = np.asarray(lats, dtype=np.float64)
    lons_a = np.asarray(lons, dtype=np.float64)
    if lats_a.shape != lons_a.shape:
        raise ValueError(f"lats and lons differ in shape: {lats_a.shape} != {lons_a.shape}")
    phi1 = math.radians(lat)
    phi2 = np.radians(lats_a)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlambda = np.radians(lons_a - lon) / 2.0
    a = np.sin(half_dphi) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(half_dlambda) ** 2
    result: npt.NDArray[np.float64] = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return result


__all__ = ["EARTH_RADIUS_M", "haversine_m", "haversine_m_many"]
