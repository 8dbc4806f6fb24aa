"""The watermark merge on its own: canonical order, strict release, idle partitions."""

from __future__ import annotations

from fraud_warning.stages.merge import Merger, count_data
from fraud_warning.stages.records import CallMade, CallReceived, Mark


def made(eid: str, t: float) -> CallMade:
    return CallMade(eid, t, "+8613800000001", "+8613800000002", None)


def received(eid: str, t: float) -> CallReceived:
    return CallReceived(eid, t, 28800, "+8613800000001", "+8613800000002", None, 60, None, 1, False)


def ids(records: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(r.event_id, r.part) for r in records]


def test_release_is_strict_and_in_canonical_order_across_partitions() -> None:
    m = Merger(["N0", "N1"])
    m.push(made("e2", 20.0), "N0")
    m.push(made("e1", 10.0), "N1")
    m.push(received("e1", 10.0), "N0")  # the same event's later part, from another queue
    m.push(made("e3", 20.0), "N1")
    m.mark("N0", 20.0)
    assert m.release() == []  # N1 has promised nothing yet
    m.mark("N1", 20.0)
    # strict: 20.0 is not before the least mark, so e2/e3 wait
    assert ids(m.release()) == [("e1", 0), ("e1", 1)]
    m.mark("N0", 21.0)
    m.mark("N1", 21.0)
    assert ids(m.release()) == [("e2", 0), ("e3", 0)]
    assert len(m) == 0


def test_a_disordered_queue_is_put_back_in_order() -> None:
    m = Merger(["N0"])
    for eid, t in (("e3", 30.0), ("e1", 10.0), ("e2", 20.0)):
        m.push(made(eid, t), "N0")
    assert ids(m.waiting()) == [("e1", 0), ("e2", 0), ("e3", 0)]
    m.mark("N0", 25.0)
    assert ids(m.release()) == [("e1", 0), ("e2", 0)]


def test_a_partition_not_heard_from_yet_holds_back_until_idle() -> None:
    """The regression: before any mark from N1, N0's marks alone released records, so an
    event N1 had not sent yet was processed after later ones (wall clock here is large,
    as time.monotonic() is)."""
    m = Merger(["N0", "N1"], idle_s=8.0)
    now = 1_000_000.0
    m.push(made("e5", 50.0), "N0")
    m.mark("N0", 60.0, now)
    assert m.release(now) == []  # N1 is silent for 0 s, not since the epoch
    assert m.release(now + 7.9) == []
    m.push(made("e1", 10.0), "N1")
    m.mark("N1", 60.0, now + 7.9)
    assert ids(m.release(now + 7.9)) == [("e1", 0), ("e5", 0)]


def test_a_silent_partition_stops_counting_after_idle_s() -> None:
    m = Merger(["N0", "N1"], idle_s=8.0)
    now = 1_000_000.0
    m.mark("N1", 5.0, now)
    m.push(made("e5", 50.0), "N0")
    m.mark("N0", 60.0, now)
    assert m.release(now + 1) == []
    m.mark("N0", 60.0, now + 8.5)  # N0 still talks; N1 last spoke 8.5 s ago
    assert ids(m.release(now + 8.5)) == [("e5", 0)]


def test_when_every_partition_is_silent_what_waits_is_released() -> None:
    m = Merger(["N0", "N1"], idle_s=8.0)
    now = 1_000_000.0
    m.push(made("e5", 50.0), "N0")
    m.mark("N0", 40.0, now)
    assert m.release(now) == []
    assert ids(m.release(now + 9)) == [("e5", 0)]
    assert m.bound > 50.0


def test_without_idle_s_a_silent_partition_holds_back_forever() -> None:
    m = Merger(["N0", "N1"])
    m.push(made("e5", 50.0), "N0")
    m.mark("N0", 60.0, 1.0)
    assert m.release(1e9) == []


def test_feed_takes_marks_and_data_records_as_sent() -> None:
    """What a task hands the merge from one upstream partition: its marks move that
    partition's promise, its data records queue, in one call."""
    m = Merger(["N0", "N1"])
    sent = [made("e1", 10.0), Mark("N0", 15.0), received("e1", 10.0), made("e3", 30.0)]
    assert count_data(sent) == 3 and count_data([]) == 0
    m.feed(sent, "N0")
    m.feed([made("e2", 20.0), Mark("N1", 25.0)], "N1")
    assert m.marks == {"N0": 15.0, "N1": 25.0} and len(m) == 4
    assert ids(m.release()) == [("e1", 0), ("e1", 1)]
    m.feed([Mark("N0", 40.0)], "N0")
    assert ids(m.release()) == [("e2", 0)]  # N1's mark, 25, holds e3 (30) back
