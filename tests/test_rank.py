"""Rank and dedup: one incident per subscriber, revised only when a desk should look again."""

from __future__ import annotations

import pytest

from fraud_warning.rank import MAX_EVIDENCE, SCORE_STEP, IncidentBook, alert_id_for
from fraud_warning.risk import Verdict, combined_score

SUB = "+8613800000001"
HOUR = 3600.0
REALERT = {"long-call@1": HOUR, "new-payee@1": HOUR, "mule@1": HOUR, "slow@1": 2 * 86400.0}


def v(model_id: str, score: float = 0.7, priority: str = "P2", typology: str = "t") -> Verdict:
    return Verdict(model_id, 1, score, priority, typology, (f"{model_id} fired",))


def test_new_incident_is_revision_one() -> None:
    book = IncidentBook()
    incident = book.update(SUB, [v("long-call@1", 0.8, "P2", "police")], REALERT, "e1", 100.0, 0.0)
    assert incident is not None
    assert incident.revision == 1
    assert incident.alert_id == alert_id_for(SUB, "e1")
    assert incident.alert_id.startswith("A-")
    assert (incident.priority, incident.typology, incident.score) == ("P2", "police", 0.8)
    assert incident.evidence == ["e1"]
    assert incident.event_ts == 100.0
    assert book.open[SUB] is incident


def test_alert_id_is_stable_across_books() -> None:
    ids = {
        IncidentBook().update(SUB, [v("long-call@1")], REALERT, "e1", 5.0, 0.0).alert_id  # type: ignore[union-attr]
        for _ in range(3)
    }
    assert ids == {alert_id_for(SUB, "e1")}
    assert alert_id_for(SUB, "e1") != alert_id_for(SUB, "e2")
    assert alert_id_for(SUB, "e1") != alert_id_for("+8613800000002", "e1")


def test_same_rule_inside_its_window_is_absorbed() -> None:
    book = IncidentBook()
    first = book.update(SUB, [v("long-call@1")], REALERT, "e1", 0.0, 0.0)
    assert first is not None
    assert book.update(SUB, [v("long-call@1")], REALERT, "e2", HOUR - 1, 0.0) is None
    assert first.revision == 1
    assert first.evidence == ["e1"]
    # After the window the rule is fresh again, but it tells the desk nothing new.
    assert book.update(SUB, [v("long-call@1")], REALERT, "e3", HOUR + 1, 0.0) is None
    assert first.revision == 1


def test_new_model_joining_is_next_revision_with_the_same_id() -> None:
    book = IncidentBook()
    first = book.update(SUB, [v("long-call@1", 0.7)], REALERT, "e1", 0.0, 0.0)
    assert first is not None
    alert_id = first.alert_id
    second = book.update(SUB, [v("new-payee@1", 0.6)], REALERT, "e2", 60.0, 5000.0)
    assert second is first
    assert second.revision == 2
    assert second.alert_id == alert_id
    assert set(second.models) == {"long-call@1", "new-payee@1"}
    assert second.score == combined_score([0.7, 0.6])
    assert second.evidence == ["e1", "e2"]
    assert second.money_cny == 5000.0
    assert second.event_ts == 60.0


def test_priority_upgrade_re_emits_and_sets_typology() -> None:
    book = IncidentBook()
    book.update(SUB, [v("long-call@1", 0.7, "P3", "long_call")], REALERT, "e1", 0.0, 0.0)
    up = book.update(SUB, [v("mule@1", 0.8, "P1", "mule_payee")], REALERT, "e2", 10.0, 100.0)
    assert up is not None and up.revision == 2
    assert (up.priority, up.typology) == ("P1", "mule_payee")
    # A weaker, less urgent model joining later never downgrades the incident.
    down = book.update(SUB, [v("new-payee@1", 0.5, "P3", "other")], REALERT, "e3", 20.0, 0.0)
    assert down is not None and down.revision == 3
    assert (down.priority, down.typology) == ("P1", "mule_payee")


def test_the_most_urgent_model_sets_priority_the_strongest_the_typology() -> None:
    # a weaker but more urgent model joining raises the priority (a met P1 condition
    # dispatches); the typology stays with the strongest model
    book = IncidentBook()
    book.update(SUB, [v("long-call@1", 0.7, "P3", "long_call")], REALERT, "e1", 0.0, 0.0)
    joined = book.update(SUB, [v("mule@1", 0.6, "P1", "mule_payee")], REALERT, "e2", 10.0, 0.0)
    assert joined is not None and joined.revision == 2
    assert (joined.priority, joined.typology) == ("P1", "long_call")


def test_priority_upgrade_of_a_model_already_in_the_incident_re_emits() -> None:
    book = IncidentBook()
    book.update(SUB, [v("long-call@1", 0.7, "P3")], REALERT, "e1", 0.0, 0.0)
    same_score_more_urgent = book.update(
        SUB, [v("long-call@1", 0.7, "P1")], REALERT, "e2", HOUR, 0.0
    )
    assert same_score_more_urgent is not None
    assert same_score_more_urgent.revision == 2
    assert same_score_more_urgent.priority == "P1"


def test_score_rise_re_emits_only_past_the_step() -> None:
    book = IncidentBook()
    book.update(SUB, [v("long-call@1", 0.70)], REALERT, "e1", 0.0, 0.0)
    tiny = book.update(SUB, [v("long-call@1", 0.70 + SCORE_STEP / 2)], REALERT, "e2", HOUR, 0.0)
    assert tiny is None
    big = book.update(SUB, [v("long-call@1", 0.80)], REALERT, "e3", 2 * HOUR, 0.0)
    assert big is not None and big.revision == 2 and big.score == 0.8


def test_after_the_ttl_a_new_incident_with_a_new_id() -> None:
    book = IncidentBook(ttl_s=12 * HOUR)
    first = book.update(SUB, [v("long-call@1")], REALERT, "e1", 0.0, 0.0)
    assert first is not None
    later = book.update(SUB, [v("long-call@1")], REALERT, "e9", 12 * HOUR + 1, 0.0)
    assert later is not None and later is not first
    assert later.revision == 1
    assert later.alert_id == alert_id_for(SUB, "e9") != first.alert_id
    assert later.evidence == ["e9"]
    assert book.open[SUB] is later


def test_exactly_at_the_ttl_the_incident_is_still_open() -> None:
    book = IncidentBook(ttl_s=100.0)
    first = book.update(SUB, [v("long-call@1")], REALERT, "e1", 0.0, 0.0)
    joined = book.update(SUB, [v("mule@1")], REALERT, "e2", 100.0, 0.0)
    assert joined is first and joined is not None and joined.revision == 2


def test_absorbed_evidence_keeps_the_incident_open() -> None:
    # A rule whose re-alert window (2 days) outlasts the TTL (12 h), firing every hour:
    # one incident, one alert, however long it goes on.
    book = IncidentBook(ttl_s=12 * HOUR)
    first = book.update(SUB, [v("slow@1")], REALERT, "e0", 0.0, 0.0)
    assert first is not None
    for hour in range(1, 30):
        assert book.update(SUB, [v("slow@1")], REALERT, f"e{hour}", hour * HOUR, 0.0) is None
    assert book.open[SUB] is first
    assert first.revision == 1
    assert book.expire(29 * HOUR + 12 * HOUR) == 0


def test_nothing_fired_leaves_no_incident() -> None:
    book = IncidentBook()
    assert book.update(SUB, [], REALERT, "e1", 0.0, 0.0) is None
    assert book.open == {}
    assert book.top(5) == []


def test_evidence_is_unique_and_capped() -> None:
    book = IncidentBook()
    incident = None
    for i in range(2 * MAX_EVIDENCE + 10):
        out = book.update(SUB, [v(f"m{i}@1")], {}, f"e{i // 2}", float(i), 0.0)
        incident = out or incident
    assert incident is not None
    assert len(incident.evidence) == len(set(incident.evidence))
    assert len(incident.evidence) == MAX_EVIDENCE
    assert incident.evidence[:3] == ["e0", "e1", "e2"]


def test_subscribers_are_independent() -> None:
    book = IncidentBook()
    a = book.update(SUB, [v("long-call@1")], REALERT, "e1", 0.0, 0.0)
    b = book.update("+8613800000002", [v("long-call@1")], REALERT, "e2", 1.0, 0.0)
    assert a is not None and b is not None
    assert a is not b and b.revision == 1
    assert a.alert_id != b.alert_id


def test_expire_closes_idle_incidents_only() -> None:
    book = IncidentBook(ttl_s=100.0)
    book.update("+8613800000001", [v("long-call@1")], REALERT, "e1", 0.0, 0.0)
    book.update("+8613800000002", [v("long-call@1")], REALERT, "e2", 50.0, 0.0)
    assert book.expire(100.0) == 0
    assert book.expire(120.0) == 1
    assert set(book.open) == {"+8613800000002"}


@pytest.mark.parametrize("n", [0, 1, 3, 10])
def test_top_orders_by_priority_score_money_recency(n: int) -> None:
    book = IncidentBook()
    # (subscriber, priority, score, money, ts) in the expected order
    expected = [
        ("p1-high", "P1", 0.9, 0.0, 10.0),
        ("p1-low", "P1", 0.6, 9e6, 20.0),
        ("p2-rich", "P2", 0.8, 5000.0, 1.0),
        ("p2-recent", "P2", 0.8, 100.0, 40.0),
        ("p2-older", "P2", 0.8, 100.0, 30.0),
        ("p3", "P3", 0.99, 1e9, 50.0),
    ]
    for sub, priority, score, money, ts in reversed(expected):
        book.update(sub, [v("m@1", score, priority)], {}, f"{sub}-e", ts, money)
    assert [i.subscriber for i in book.top(n)] == [e[0] for e in expected][:n]
