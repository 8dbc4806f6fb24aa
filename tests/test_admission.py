"""Admission on its own: late, duplicate and far-ahead events, and how long ids are kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fraud_warning.admission import Admission, AdmissionConfig
from fraud_warning.decode import Decoded
from fraud_warning.wire import Sms

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def item(eid: str, offset_s: float) -> tuple[Decoded, float]:
    ts = T0 + timedelta(seconds=offset_s)
    return Decoded(0, Sms(eid, ts, "+8613800000001", "+8613800000002")), ts.timestamp()


def admit(a: Admission, eid: str, offset_s: float) -> str | None:
    decoded, ts = item(eid, offset_s)
    letter = a.admit(decoded, ts, "test")
    return None if letter is None else letter.reason


def test_late_duplicate_and_far_ahead_events_are_refused_with_their_reason() -> None:
    a = Admission(AdmissionConfig(allowed_lateness_s=600, max_ahead_s=86_400))
    assert admit(a, "e1", 1000) is None
    assert admit(a, "e1", 1000) == "duplicate"
    assert admit(a, "e2", 500) is None  # 500 s behind: within the lateness
    assert admit(a, "e3", 399) == "late"
    assert admit(a, "e4", 1000 + 86_401) == "bad_timestamp"


def test_ids_are_kept_while_an_event_with_them_could_still_be_admitted() -> None:
    a = Admission(AdmissionConfig(allowed_lateness_s=600))
    for i in range(5000):  # one id a second: many dropped from the front over the run
        assert admit(a, f"e{i}", i) is None
    assert len(a.ids) == 601  # ids of the last 600 s and the newest second's
    assert all(f"e{i}" in a.ids for i in range(4399, 5000))
    assert not any(f"e{i}" in a.ids for i in range(4399))
    assert admit(a, "e4399", 4399) == "duplicate"
    assert admit(a, "e4398", 4398) == "late"


def test_a_restored_admission_refuses_what_the_original_took() -> None:
    a = Admission()
    for i in range(50):
        admit(a, f"e{i}", i * 30)
    b = Admission()
    b.advance(a.watermark)
    b.restore(a.ids.dump())
    assert admit(b, "e45", 45 * 30) == "duplicate"
    for i in range(50, 200):  # and forgets them as the original would
        admit(a, f"e{i}", i * 30)
        admit(b, f"e{i}", i * 30)
    assert a.ids.dump() == b.ids.dump()


def test_ids_kept_as_strings_by_an_older_snapshot_are_refused_too() -> None:
    a = Admission()
    a.advance(T0.timestamp() + 100)
    a.remember({"e1": T0.timestamp() + 90, "e2": T0.timestamp() + 95})
    assert admit(a, "e2", 95) == "duplicate"
    assert admit(a, "e3", 96) is None
