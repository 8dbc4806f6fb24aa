"""Desk actions: recorded with who and when, legal only from the right states."""

from __future__ import annotations

from typing import Any

import pytest

from fraud_warning.desk.errors import Conflict, Invalid, NotFound

from .conftest import FakeClock, make_alert, unit


def test_actions_are_recorded_with_who_and_when(make_desk: Any, clock: FakeClock) -> None:
    desk = make_desk()
    desk.ingest(make_alert("A-1"))
    clock.advance(10)
    desk.act("A-1", "ack", principal="desk#1", by="Officer Li")
    clock.advance(50)
    rec = desk.act("A-1", "warned", principal="desk#2", note="confirmed: no transfer made")
    assert rec.state == "warned"
    first, second = desk.store.actions("A-1")
    assert first["action"] == "ack" and first["by"] == "Officer Li"
    assert first["principal"] == "desk#1" and first["at"].startswith("2026-03-02T09:00:10")
    assert second["by"] == "desk#2" and second["note"] == "confirmed: no transfer made"
    assert desk.store.ranked() == []  # warned: off the queue


def test_dismiss_needs_a_reason_and_becomes_a_label(make_desk: Any) -> None:
    desk = make_desk()
    desk.ingest(make_alert("A-1"))
    with pytest.raises(Invalid, match="needs a reason"):
        desk.act("A-1", "dismiss", principal="desk#1")
    with pytest.raises(Invalid, match="needs a reason"):
        desk.act("A-1", "dismiss", principal="desk#1", reason="bored")
    desk.act("A-1", "dismiss", principal="desk#1", reason="false_positive")
    [outcome] = desk.store.outcomes()
    assert outcome["label"] == 0 and outcome["outcome"] == "false_positive"
    assert outcome["models"] == ["long-risky-call@2"]
    assert desk.ladder.steps("A-1")["phone"]["status"] == "cancelled"


def test_escalate_sends_a_unit_at_the_p1_target(make_desk: Any) -> None:
    desk = make_desk((unit("U1", 300),))
    desk.ingest(make_alert("A-1", priority="P3"))
    rec = desk.act("A-1", "escalate", principal="desk#1")
    assert rec.state == "escalated"
    task = desk.dispatch.require("T-A-1")
    assert task["unit_id"] == "U1" and task["reason"] == "escalated by the desk"
    assert task["priority"] == "P1"


@pytest.mark.parametrize(
    ("first", "then", "message"),
    [
        ("ack", "ack", "is acknowledged; ack needs it to be open"),
        ("warned", "escalate", "is warned"),
        ("escalate", "escalate", "is escalated"),
    ],
)
def test_illegal_transitions_conflict(make_desk: Any, first: str, then: str, message: str) -> None:
    desk = make_desk((unit("U1", 300),))
    desk.ingest(make_alert("A-1"))
    desk.act("A-1", first, principal="desk#1")
    with pytest.raises(Conflict, match=message):
        desk.act("A-1", then, principal="desk#1")


def test_unknown_action_and_alert(make_desk: Any) -> None:
    desk = make_desk()
    with pytest.raises(Invalid, match="unknown action"):
        desk.act("A-1", "delete", principal="desk#1")
    with pytest.raises(NotFound):
        desk.act("A-1", "ack", principal="desk#1")


def test_escalating_a_fraud_number_is_refused(make_desk: Any) -> None:
    desk = make_desk()
    alert = make_alert("N-1")
    alert.update(typology="fraud_number", location=None)
    desk.ingest(alert)
    with pytest.raises(Conflict, match="no victim"):
        desk.act("N-1", "escalate", principal="desk#1")
