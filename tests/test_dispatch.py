"""Dispatch: nearest free unit by ETA, busy units, escalation, determinism."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fraud_warning.contracts import DispatchTask, Location
from fraud_warning.dispatch import DispatchConfig, Dispatcher
from fraud_warning.geo import haversine_m
from fraud_warning.refdata import Unit

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SQUARE = (30.6570, 104.0657)  # Tianfu Square
M_PER_DEG_LAT = 111_195.0
# Default config: 30 km/h with a 1.4 road factor, so 300 s covers 1,786 m straight-line.
REACH_300_S_M = 300 * (30 / 3.6) / 1.4


def north_of_square(metres: float) -> tuple[float, float]:
    return SQUARE[0] + metres / M_PER_DEG_LAT, SQUARE[1]


def unit(unit_id: str, metres_north: float) -> Unit:
    lat, lon = north_of_square(metres_north)
    return Unit(unit_id, "Jinjiang", lat, lon)


def at_square() -> Location:
    return Location(lat=SQUARE[0], lon=SQUARE[1], source="cell")


def send(
    dispatcher: Dispatcher,
    alert_id: str,
    now: datetime = T0,
    location: Location | None = None,
    priority: str = "P1",
) -> DispatchTask:
    return dispatcher.dispatch(
        alert_id=alert_id,
        subscriber="+8613800000001",
        priority=priority,
        location=at_square() if location is None else location,
        now=now,
    )


def expected_eta_s(u: Unit, lat: float = SQUARE[0], lon: float = SQUARE[1]) -> float:
    return haversine_m(lat, lon, u.lat, u.lon) * 1.4 / (30 / 3.6)


def test_picks_the_nearest_unit_and_fills_the_task() -> None:
    near, far = unit("U-FAR-IS-NEAR", 500), unit("U-A", 1_200)
    dispatcher = Dispatcher([far, near, unit("U-B", -1_500)])
    task = send(dispatcher, "A1")
    assert task.unit_id == "U-FAR-IS-NEAR"
    assert task.status == "assigned"
    assert task.task_id == "T-A1"
    assert task.alert_id == "A1"
    assert task.subscriber == "+8613800000001"
    assert task.location == at_square()
    assert task.created_at == T0
    assert task.target_arrival == T0 + timedelta(seconds=300)
    # 500 m x 1.4 at 30 km/h is 84 s.
    assert task.eta_s == pytest.approx(84.0, abs=0.1)
    assert task.eta_s == round(expected_eta_s(near), 1)


def test_a_busy_unit_is_skipped_and_freed_after_its_busy_time() -> None:
    dispatcher = Dispatcher([unit("U1", 500), unit("U2", 1_000)])
    first = send(dispatcher, "A1")
    assert first.unit_id == "U1"
    eta_1 = expected_eta_s(unit("U1", 500))
    busy_until = T0 + timedelta(seconds=eta_1 + 1_200)
    assert dispatcher.busy_until("U1") == pytest.approx(busy_until, abs=timedelta(milliseconds=1))
    assert dispatcher.busy_until("U2") is None

    second = send(dispatcher, "A2", now=T0 + timedelta(seconds=60))
    assert second.unit_id == "U2"
    assert second.status == "assigned"

    # Both busy now: nobody to send.
    third = send(dispatcher, "A3", now=T0 + timedelta(seconds=120))
    assert (third.unit_id, third.eta_s, third.status) == (None, None, "escalated")

    # U1 is still busy a second before its time, free right after.
    before = send(dispatcher, "A4", now=busy_until - timedelta(seconds=1))
    assert before.unit_id is None
    after = send(dispatcher, "A5", now=busy_until + timedelta(milliseconds=1))
    assert after.unit_id == "U1"
    assert after.status == "assigned"


def test_too_far_escalates_but_the_nearest_free_unit_still_goes() -> None:
    dispatcher = Dispatcher([unit("U-FAR", 5_000), unit("U-FARTHER", 8_000)])
    task = send(dispatcher, "A1")
    assert task.status == "escalated"
    assert task.unit_id == "U-FAR"
    assert task.eta_s == round(expected_eta_s(unit("U-FAR", 5_000)), 1)
    assert task.eta_s is not None and task.eta_s > 300
    # It went, so it is busy: the next alert gets the farther one.
    assert send(dispatcher, "A2").unit_id == "U-FARTHER"


@pytest.mark.parametrize(
    ("metres", "status"),
    [(REACH_300_S_M - 2, "assigned"), (REACH_300_S_M + 2, "escalated")],
)
def test_target_boundary(metres: float, status: str) -> None:
    task = send(Dispatcher([unit("U1", metres)]), "A1")
    assert task.status == status
    assert task.eta_s == pytest.approx(300, abs=0.5)


def test_unknown_location_escalates_without_using_a_unit() -> None:
    dispatcher = Dispatcher([unit("U1", 100)])
    task = dispatcher.dispatch(
        alert_id="A1", subscriber="+8613800000001", priority="P1", location=None, now=T0
    )
    assert (task.unit_id, task.eta_s, task.status, task.location) == (None, None, "escalated", None)
    assert dispatcher.busy_until("U1") is None
    assert send(dispatcher, "A2").unit_id == "U1"


def test_no_units_at_all_escalates() -> None:
    task = send(Dispatcher([]), "A1")
    assert (task.unit_id, task.eta_s, task.status) == (None, None, "escalated")


def test_priorities_without_a_target_do_not_dispatch() -> None:
    dispatcher = Dispatcher([unit("U1", 100)])
    for priority in ("P2", "P3", "P0"):
        with pytest.raises(ValueError, match="does not dispatch"):
            send(dispatcher, "A1", priority=priority)
    # Nothing was consumed by the refusals.
    assert dispatcher.busy_until("U1") is None


def test_configured_targets_decide_what_dispatches() -> None:
    config = DispatchConfig(targets_s={"P1": 300.0, "P2": 900.0})
    task = send(Dispatcher([unit("U1", 4_000)], config), "A1", priority="P2")
    # 4 km x 1.4 at 30 km/h is 672 s: late for P1, fine for P2.
    assert task.status == "assigned"
    assert task.target_arrival == T0 + timedelta(seconds=900)


def test_config_changes_eta() -> None:
    config = DispatchConfig(road_factor=1.0, speed_kmh=60.0, on_scene_s=0.0)
    dispatcher = Dispatcher([unit("U1", 1_000)], config)
    task = send(dispatcher, "A1")
    assert task.eta_s == pytest.approx(60.0, abs=0.1)
    # No time on scene: free again as soon as it arrives.
    assert send(dispatcher, "A2", now=T0 + timedelta(seconds=61)).unit_id == "U1"


def test_ties_go_to_the_smallest_unit_id_whatever_the_input_order() -> None:
    units = [unit("U-C", 700), unit("U-A", 700), unit("U-B", 700)]
    for order in (units, units[::-1], [units[2], units[0], units[1]]):
        dispatcher = Dispatcher(order)
        assert [send(dispatcher, f"A{i}").unit_id for i in range(3)] == ["U-A", "U-B", "U-C"]


def test_replays_are_deterministic() -> None:
    rng = random.Random(7)
    # Few units and frequent alerts, so units run out and the replay exercises every branch.
    units = [unit(f"U{i:03d}", rng.uniform(-8_000, 8_000)) for i in range(40)]
    alerts = [
        (f"A{i}", T0 + timedelta(seconds=20 * i), north_of_square(rng.uniform(-8_000, 8_000)))
        for i in range(200)
    ]

    def replay(unit_order: list[Unit]) -> list[DispatchTask]:
        dispatcher = Dispatcher(unit_order)
        return [
            send(dispatcher, alert_id, now, Location(lat=lat, lon=lon, source="home"))
            for alert_id, now, (lat, lon) in alerts
        ]

    first = replay(units)
    assert first == replay(units)
    assert first == replay(rng.sample(units, len(units)))
    assert {t.status for t in first} == {"assigned", "escalated"}
    assert any(t.unit_id is None for t in first)
    assert any(t.unit_id is not None and t.status == "escalated" for t in first)


def test_matches_a_brute_force_search() -> None:
    rng = random.Random(11)
    units = [
        Unit(f"U{i}", "s", 30.6 + rng.uniform(-0.1, 0.1), 104.0 + rng.uniform(-0.1, 0.1))
        for i in range(400)
    ]
    dispatcher = Dispatcher(units)
    busy: set[str] = set()
    for i in range(50):
        lat, lon = 30.6 + rng.uniform(-0.1, 0.1), 104.0 + rng.uniform(-0.1, 0.1)
        task = send(dispatcher, f"A{i}", location=Location(lat=lat, lon=lon, source="cell"))
        best = min(
            (u for u in units if u.unit_id not in busy),
            key=lambda u: (expected_eta_s(u, lat, lon), u.unit_id),
        )
        assert task.unit_id == best.unit_id
        assert task.eta_s == round(expected_eta_s(best, lat, lon), 1)
        busy.add(best.unit_id)


def test_the_same_alert_dispatches_once() -> None:
    # Alerts are re-emitted with higher revisions and delivered at least once.
    dispatcher = Dispatcher([unit("U1", 100), unit("U2", 200)])
    first = send(dispatcher, "A1")
    again = send(dispatcher, "A1", now=T0 + timedelta(seconds=30))
    assert again == first
    assert dispatcher.task("A1") == first
    assert dispatcher.task("A2") is None
    assert send(dispatcher, "A2").unit_id == "U2"


def test_other_timezones_are_the_same_instant() -> None:
    beijing = timezone(timedelta(hours=8))
    dispatcher = Dispatcher([unit("U1", 500)])
    first = send(dispatcher, "A1", now=T0.astimezone(beijing))
    assert first.created_at == T0
    # Busy until is compared as an instant, not as local clock time.
    assert send(dispatcher, "A2", now=T0 + timedelta(seconds=600)).unit_id is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send(Dispatcher([unit("U1", 100)]), "A1", now=datetime(2024, 5, 1, 9, 0))


def test_duplicate_units_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate unit_id"):
        Dispatcher([unit("U1", 100), unit("U1", 200)])


def test_busy_until_of_an_unknown_unit() -> None:
    with pytest.raises(KeyError):
        Dispatcher([unit("U1", 100)]).busy_until("U9")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"road_factor": 0.9},
        {"speed_kmh": 0.0},
        {"on_scene_s": -1.0},
        {"targets_s": {"P1": 0.0}},
        {"speed_kmh": float("nan")},
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DispatchConfig(**kwargs)  # type: ignore[arg-type]


def test_config_is_frozen_and_owns_its_targets() -> None:
    targets = {"P1": 300.0}
    config = DispatchConfig(targets_s=targets)
    targets["P2"] = 900.0
    assert dict(config.targets_s) == {"P1": 300.0}
    with pytest.raises(TypeError):
        config.targets_s["P2"] = 900.0  # type: ignore[index]
    assert DispatchConfig().targets_s == {"P1": 300.0}
