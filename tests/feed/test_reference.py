"""Reference CSVs and meta.json are well-formed and agree with the events."""

from __future__ import annotations

from datetime import datetime

from .conftest import Feed

AGE_BANDS = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}


def _in_city(lat: float, lon: float) -> bool:
    return 30.45 < lat < 30.87 and 103.83 < lon < 104.30


def test_cells(day_feed: Feed) -> None:
    rows = day_feed.csv("cells.csv")
    assert list(rows[0]) == ["cell_id", "lat", "lon"]
    ids = [r["cell_id"] for r in rows]
    assert len(set(ids)) == len(ids) >= 12
    assert all(_in_city(float(r["lat"]), float(r["lon"])) for r in rows)
    assert day_feed.meta["cells"] == len(rows)


def test_cells_are_denser_in_the_centre(small_feed: Feed) -> None:
    rows = small_feed.csv("cells.csv")
    near = sum(
        abs(float(r["lat"]) - 30.66) < 0.05 and abs(float(r["lon"]) - 104.06) < 0.06 for r in rows
    )
    # The central ~10 x 11 km box is under 8% of the city's area.
    assert near / len(rows) > 0.2


def test_units(day_feed: Feed) -> None:
    rows = day_feed.csv("units.csv")
    assert list(rows[0]) == ["unit_id", "station", "lat", "lon"]
    ids = [r["unit_id"] for r in rows]
    assert len(set(ids)) == len(ids) >= 10
    assert len({r["station"] for r in rows}) >= 5
    assert all(r["station"] for r in rows)
    assert all(_in_city(float(r["lat"]), float(r["lon"])) for r in rows)


def test_subscribers(day_feed: Feed) -> None:
    rows = day_feed.csv("subscribers.csv")
    assert list(rows[0]) == ["msisdn", "age_band", "home_lat", "home_lon"]
    assert len(rows) == day_feed.meta["subscribers"]
    assert len({r["msisdn"] for r in rows}) == len(rows)
    assert {r["age_band"] for r in rows} == AGE_BANDS
    assert all(r["msisdn"].startswith("+861") for r in rows)
    assert all(_in_city(float(r["home_lat"]), float(r["home_lon"])) for r in rows)


def test_meta(day_feed: Feed) -> None:
    meta = day_feed.meta
    for key in (
        "subscribers", "hours", "seed", "start", "end", "events", "victims",
        "fraud_numbers", "mule_accounts", "fraud_rate", "generator_version",
    ):  # fmt: skip
        assert key in meta
    assert meta["events"] == len(day_feed.lines)
    assert meta["start"] == "2026-03-02T00:00:00+08:00"
    span = datetime.fromisoformat(meta["end"]) - datetime.fromisoformat(meta["start"])
    assert span.total_seconds() == meta["hours"] * 3600
