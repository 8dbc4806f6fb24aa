"""Great-circle distances against independently known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraud_warning.geo import EARTH_RADIUS_M, haversine_m, haversine_m_many

TIANFU_SQUARE = (30.6570, 104.0657)
CHENGDU_EAST_STATION = (30.6296, 104.1412)

lats = st.floats(min_value=-90, max_value=90, allow_nan=False)
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)


def test_tianfu_square_to_chengdu_east_station_is_about_7_8_km() -> None:
    # 0.0274° of latitude (~3.05 km) and 0.0755° of longitude at 30.6° N (~7.23 km).
    distance = haversine_m(*TIANFU_SQUARE, *CHENGDU_EAST_STATION)
    assert distance == pytest.approx(7_839, abs=20)


def test_one_degree_of_longitude_on_the_equator() -> None:
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(2 * math.pi * EARTH_RADIUS_M / 360)
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_195, abs=1)


def test_london_to_paris() -> None:
    assert haversine_m(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343_556, abs=50)


def test_pole_to_pole_and_antipodes_are_half_a_circumference() -> None:
    half = math.pi * EARTH_RADIUS_M
    assert haversine_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(half)
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(half)
    assert haversine_m(30.0, 104.0, -30.0, -76.0) == pytest.approx(half)


def test_crossing_the_antimeridian_takes_the_short_way() -> None:
    assert haversine_m(0.0, 179.5, 0.0, -179.5) == pytest.approx(111_195, abs=1)


@given(lats, lons)
def test_same_point_is_zero(lat: float, lon: float) -> None:
    assert haversine_m(lat, lon, lat, lon) == pytest.approx(0.0, abs=1e-6)


@given(lats, lons, lats, lons)
def test_symmetric_and_bounded(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    forward = haversine_m(lat1, lon1, lat2, lon2)
    assert forward == pytest.approx(haversine_m(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= forward <= math.pi * EARTH_RADIUS_M + 1e-6


@given(lats, lons, st.lists(st.tuples(lats, lons), max_size=20))
def test_many_matches_the_scalar_form(
    lat: float, lon: float, points: list[tuple[float, float]]
) -> None:
    point_lats = np.array([p[0] for p in points], dtype=np.float64)
    point_lons = np.array([p[1] for p in points], dtype=np.float64)
    result = haversine_m_many(lat, lon, point_lats, point_lons)
    expected = [haversine_m(lat, lon, p_lat, p_lon) for p_lat, p_lon in points]
    assert result.shape == (len(points),)
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-6)


def test_many_on_known_points() -> None:
    result = haversine_m_many(
        *TIANFU_SQUARE,
        np.array([TIANFU_SQUARE[0], CHENGDU_EAST_STATION[0]]),
        np.array([TIANFU_SQUARE[1], CHENGDU_EAST_STATION[1]]),
    )
    assert result[0] == pytest.approx(0.0, abs=1e-6)
    assert result[1] == pytest.approx(7_839, abs=20)


def test_many_with_no_points_is_empty() -> None:
    assert haversine_m_many(0.0, 0.0, np.array([]), np.array([])).shape == (0,)


def test_many_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        haversine_m_many(0.0, 0.0, np.array([1.0, 2.0]), np.array([1.0]))
