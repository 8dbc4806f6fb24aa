"""The alert store on real Redis: idempotent by alert_id, highest revision, ranked queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from fraud_warning.desk.errors import Conflict, Invalid, NotFound
from fraud_warning.desk.keys import Keys
from fraud_warning.desk.store import AlertStore

from .conftest import T0, make_alert


def stream_ids(client: redis.Redis, keys: Keys) -> list[str]:
    return [fields["id"] for _, fields in client.xrange(keys.stream)]


def test_same_alert_twice_is_one_alert(client: redis.Redis, keys: Keys) -> None:
    store = AlertStore(client, keys)
    assert store.put(make_alert("A-1"), now=1.0)[0] == "new"
    assert store.put(make_alert("A-1"), now=2.0)[0] == "stale"
    assert [r.alert_id for r in store.ranked()] == ["A-1"]
    assert stream_ids(client, keys) == ["A-1"]


def test_highest_revision_wins_whatever_the_order(client: redis.Redis, keys: Keys) -> None:
    store = AlertStore(client, keys)
    store.put(make_alert("A-1", revision=1, score=0.7), now=1.0)
    assert store.put(make_alert("A-1", revision=3, score=0.9), now=2.0)[0] == "revised"
    assert store.put(make_alert("A-1", revision=2, score=0.8), now=3.0)[0] == "stale"
    record = store.require("A-1")
    assert record.alert["revision"] == 3 and record.alert["score"] == 0.9
    assert record.first_seen == 1.0 and record.updated == 2.0
    assert len(stream_ids(client, keys)) == 2


def test_ranking_priority_score_urgency_vulnerability(client: redis.Redis, keys: Keys) -> None:
    store = AlertStore(client, keys)
    hour_ago = T0 - timedelta(hours=1)
    store.put(make_alert("old", priority="P2", score=0.8, event_ts=hour_ago), now=1)
    store.put(make_alert("now", priority="P2", score=0.8, event_ts=T0), now=1)
    store.put(
        make_alert("old-elderly", priority="P2", score=0.8, event_ts=hour_ago), now=1, elderly=True
    )
    store.put(make_alert("higher", priority="P2", score=0.9, event_ts=hour_ago), now=1)
    store.put(make_alert("p1", priority="P1", score=0.5, event_ts=hour_ago), now=1)
    store.put(make_alert("p3", priority="P3", score=1.0, event_ts=T0), now=1)
    order = [r.alert_id for r in store.ranked()]
    assert order == ["p1", "higher", "now", "old-elderly", "old", "p3"]


def test_transition_records_and_closes(client: redis.Redis, keys: Keys) -> None:
    store = AlertStore(client, keys)
    store.put(make_alert("A-1"), now=1.0)
    action = {"action": "dismiss", "by": "li", "at": "t"}
    record = store.transition(
        "A-1",
        allowed=("open",),
        to_state="dismissed",
        action=action,
        dismiss_reason="false_positive",
        now=5.0,
    )
    assert record.state == "dismissed" and record.dismiss_reason == "false_positive"
    assert store.ranked() == []
    assert store.actions("A-1") == [action]
    with pytest.raises(Conflict, match="is dismissed"):
        store.transition("A-1", allowed=("open",), to_state="acknowledged", action=action, now=6)
    with pytest.raises(NotFound):
        store.transition("nope", allowed=("open",), to_state="acknowledged", action=action, now=6)


def test_more_urgent_evidence_reopens_a_dismissed_alert(client: redis.Redis, keys: Keys) -> None:
    store = AlertStore(client, keys)
    store.put(make_alert("A-1", priority="P3"), now=1.0)
    store.transition(
        "A-1",
        allowed=("open",),
        to_state="dismissed",
        action={"action": "dismiss"},
        dismiss_reason="false_positive",
        now=2.0,
    )
    store.put(make_alert("A-1", revision=2, priority="P3", score=0.9), now=3.0)
    assert store.require("A-1").state == "dismissed"
    store.put(make_alert("A-1", revision=3, priority="P1"), now=4.0)
    assert store.require("A-1").state == "open"
    assert [r.alert_id for r in store.ranked()] == ["A-1"]


def test_invalid_alert_is_refused_with_the_field(client: redis.Redis, keys: Keys) -> None:
    bad = make_alert("A-1")
    bad["priority"] = "P9"
    with pytest.raises(Invalid, match="priority"):
        AlertStore(client, keys).put(bad, now=1.0)
