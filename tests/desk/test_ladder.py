"""The escalation ladder: SMS → phone call → door visit, each with a deadline."""

from __future__ import annotations

from typing import Any

import redis

from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import epoch

from .conftest import FakeClock, make_alert, unit

UNITS = (unit("U1", 500), unit("U2", 900))


def kinds(client: redis.Redis, keys: Keys) -> list[str]:
    return [fields["kind"] for _, fields in client.xrange(keys.outbox)]


def test_low_tier_climbs_when_nobody_answers(
    make_desk: Any, clock: FakeClock, client: redis.Redis, keys: Keys
) -> None:
    desk = make_desk(UNITS)
    desk.ingest(make_alert("A-1", priority="P3"))
    assert kinds(client, keys) == ["sms"]
    clock.advance(599)
    desk.tick()
    assert "phone" not in desk.ladder.steps("A-1")
    clock.advance(1)
    desk.tick()
    steps = desk.ladder.steps("A-1")
    assert steps["sms"]["status"] == "expired" and steps["phone"]["status"] == "open"
    assert kinds(client, keys) == ["sms", "phone"]
    clock.advance(300)
    desk.tick()
    task = desk.dispatch.require("T-A-1")
    assert task["reason"] == "phone unanswered"
    assert epoch(task["target_arrival"]) - epoch(task["created_at"]) == 900  # the P3 target
    assert desk.ladder.steps("A-1")["door"]["status"] == "open"


def test_acknowledging_answers_the_sms_but_not_a_phone_call(
    make_desk: Any, clock: FakeClock
) -> None:
    desk = make_desk(UNITS)
    desk.ingest(make_alert("A-3", priority="P3"))
    desk.ingest(make_alert("A-2", priority="P2", subscriber="+8613800000002"))
    desk.act("A-3", "ack", principal="desk#1")
    desk.act("A-2", "ack", principal="desk#1")
    clock.advance(3600)
    desk.tick()
    sms_only = desk.ladder.steps("A-3")
    assert set(sms_only) == {"sms"} and sms_only["sms"]["status"] == "answered"
    assert desk.ladder.steps("A-2")["phone"]["status"] == "expired"
    assert desk.dispatch.require("T-A-2")["reason"] == "phone unanswered"


def test_warned_by_phone_stops_the_climb(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk(UNITS)
    desk.ingest(make_alert("A-1", priority="P2"))
    clock.advance(100)
    desk.act("A-1", "warned", principal="desk#1", by="Officer Li")
    clock.advance(3600)
    desk.tick()
    assert desk.ladder.steps("A-1")["phone"]["status"] == "answered"
    assert desk.dispatch.tasks() == []


def test_new_evidence_raising_to_p1_sends_a_unit(make_desk: Any) -> None:
    desk = make_desk(UNITS)
    desk.ingest(make_alert("A-1", priority="P3"))
    desk.ingest(make_alert("A-1", revision=2, priority="P1"))
    assert desk.dispatch.require("T-A-1")["unit_id"] == "U1"
    assert set(desk.ladder.steps("A-1")) == {"sms", "door"}


def test_fraud_numbers_get_no_ladder(make_desk: Any, client: redis.Redis, keys: Keys) -> None:
    desk = make_desk(UNITS)
    alert = make_alert("N-1", priority="P1")
    alert.update(typology="fraud_number", location=None)
    desk.ingest(alert)
    assert desk.ladder.steps("N-1") == {} and desk.dispatch.tasks() == []
    assert kinds(client, keys) == []
