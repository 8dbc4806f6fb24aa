"""Dispatch on Redis: nearest free unit, escalation with a phone fallback, reassignment."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from fraud_warning.desk.errors import Conflict, Invalid, NotFound
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import epoch

from .conftest import FakeClock, make_alert, unit

NEAR, MID, FAR = unit("U-NEAR", 500), unit("U-MID", 1_000), unit("U-FAR", 5_000)


def outbox(client: redis.Redis, keys: Keys) -> list[dict[str, str]]:
    return [fields for _, fields in client.xrange(keys.outbox)]


def test_p1_gets_the_nearest_unit_with_a_target(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk((FAR, MID, NEAR))
    desk.ingest(make_alert("A-1", priority="P1"))
    task = desk.dispatch.require("T-A-1")
    assert task["unit_id"] == "U-NEAR" and task["status"] == "assigned"
    assert task["eta_s"] == pytest.approx(84.0, abs=0.1)  # 500 m x 1.4 at 30 km/h
    assert epoch(task["target_arrival"]) - epoch(task["created_at"]) == 300
    assert task["district"] == "Jinjiang"
    assert desk.ladder.steps("A-1")["door"]["status"] == "open"
    assert desk.dispatch.fleet.busy() == {"U-NEAR": "T-A-1"}


def test_p2_does_not_dispatch_at_once(make_desk: Any) -> None:
    desk = make_desk((NEAR,))
    desk.ingest(make_alert("A-1", priority="P2"))
    assert desk.dispatch.tasks() == []
    assert desk.ladder.steps("A-1")["phone"]["status"] == "open"


def test_same_p1_twice_sends_one_unit(make_desk: Any) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1"))
    desk.ingest(make_alert("A-1", priority="P1"))
    desk.ingest(make_alert("A-1", revision=2, priority="P1", score=0.95))
    assert [t["task_id"] for t in desk.dispatch.tasks()] == ["T-A-1"]
    assert desk.dispatch.fleet.busy() == {"U-NEAR": "T-A-1"}


def test_a_busy_unit_is_not_assigned(make_desk: Any) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1"))
    desk.ingest(make_alert("A-2", priority="P1", subscriber="+8613800000002"))
    assert desk.dispatch.require("T-A-2")["unit_id"] == "U-MID"


def test_no_unit_in_time_escalates_and_raises_a_phone_warning(
    make_desk: Any, client: redis.Redis, keys: Keys
) -> None:
    desk = make_desk((FAR,))
    desk.ingest(make_alert("A-1", priority="P1"))
    task = desk.dispatch.require("T-A-1")
    assert task["status"] == "escalated" and task["unit_id"] == "U-FAR"  # still sent
    assert desk.ladder.steps("A-1")["phone"]["status"] == "open"
    assert [(m["kind"], m["alert_id"]) for m in outbox(client, keys)] == [("phone", "A-1")]


def test_no_unit_at_all_retries_until_one_is_free(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk((NEAR,))
    desk.ingest(make_alert("A-1", priority="P1"))
    desk.ingest(make_alert("A-2", priority="P1", subscriber="+8613800000002"))
    second = desk.dispatch.require("T-A-2")
    assert second["status"] == "escalated" and second["unit_id"] is None
    desk.report("T-A-1", "acknowledged", unit_id="U-NEAR")
    desk.report("T-A-1", "on_scene", unit_id="U-NEAR")
    desk.report("T-A-1", "resolved", unit_id="U-NEAR", outcome="warned")
    clock.advance(31)
    desk.tick()
    assert desk.dispatch.require("T-A-2")["unit_id"] == "U-NEAR"


def test_unacknowledged_task_goes_to_the_next_unit(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1"))
    clock.advance(59)
    desk.tick()
    assert desk.dispatch.require("T-A-1")["unit_id"] == "U-NEAR"
    clock.advance(2)
    desk.tick()
    task = desk.dispatch.require("T-A-1")
    assert task["unit_id"] == "U-MID" and task["tried"] == ["U-NEAR"]
    assert task["history"][-1]["reassigned_from"] == "U-NEAR"
    assert desk.dispatch.fleet.busy() == {"U-MID": "T-A-1"}
    with pytest.raises(Conflict, match="assigned to U-MID, not U-NEAR"):
        desk.report("T-A-1", "acknowledged", unit_id="U-NEAR")


def test_acknowledged_in_time_stays(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1"))
    clock.advance(30)
    desk.report("T-A-1", "acknowledged", unit_id="U-NEAR")
    clock.advance(120)
    desk.tick()
    assert desk.dispatch.require("T-A-1")["unit_id"] == "U-NEAR"


def test_the_whole_visit_closes_the_loop(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1", metres_north=2_000))
    clock.advance(20)
    desk.report("T-A-1", "acknowledged", unit_id="U-MID")
    clock.advance(200)
    task = desk.report("T-A-1", "on_scene", unit_id="U-MID")
    assert task["arrival_s"] == 220 and task["on_time"] is True
    assert desk.ladder.steps("A-1")["door"]["status"] == "answered"
    clock.advance(600)
    task = desk.report("T-A-1", "resolved", unit_id="U-MID", outcome="money_stopped")
    assert task["status"] == "resolved" and desk.dispatch.fleet.busy() == {}
    moved = {u.unit_id: u for u in desk.dispatch.fleet.units()}["U-MID"]
    assert (moved.lat, moved.lon) == (task["location"]["lat"], task["location"]["lon"])
    assert desk.store.require("A-1").state == "resolved"
    [outcome] = desk.store.outcomes()
    assert outcome["label"] == 1 and outcome["outcome"] == "money_stopped"
    text = desk.metrics.exposition().decode()
    assert 'fraud_warning_dispatch_arrivals_total{district="Jinjiang",on_time="true"} 1.0' in text


@pytest.mark.parametrize(
    ("status", "kwargs", "error", "message"),
    [
        ("on_scene", {"unit_id": "U-MID"}, Conflict, "assigned to U-NEAR"),
        ("resolved", {"outcome": "warned"}, Conflict, "is assigned; resolved follows"),
        ("resolved", {}, Invalid, "needs an outcome"),
        ("acknowledged", {"outcome": "warned"}, Invalid, "only given with status resolved"),
        ("landed", {}, Invalid, "status must be one of"),
        ("acknowledged", {"lat": 95.0, "lon": 1.0}, Invalid, "lat must be"),
    ],
)
def test_bad_reports_say_why(
    make_desk: Any, status: str, kwargs: dict[str, Any], error: type, message: str
) -> None:
    desk = make_desk((NEAR, MID))
    desk.ingest(make_alert("A-1", priority="P1"))
    with pytest.raises(error, match=message):
        desk.report("T-A-1", status, **kwargs)


def test_unknown_task_is_not_found(make_desk: Any) -> None:
    with pytest.raises(NotFound):
        make_desk((NEAR,)).report("T-nope", "acknowledged")


def test_targets_flag_parsing() -> None:
    from fraud_warning.desk.dispatcher import parse_targets

    assert parse_targets("P1=240,P3=900") == {"P1": 240.0, "P3": 900.0}
    for bad, message in (
        ("P1=0", "> 0"),
        ("P2=600", "P1 needs"),
        ("P9=1", "expected"),
        ("P1=soon", "not a number"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_targets(bad)
