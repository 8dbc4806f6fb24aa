"""Admission's memory of event ids as fingerprints (admitted.py): the C type and its
twin, held to the same answers and to a plain model of what they must remember."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraud_warning.admitted import IdMemory, PyAdmittedIds, compiled, py_fingerprint

C = compiled()

# MurmurHash3_x64_128, seed 0, (h1, h2) unsigned: from the reference implementation's
# Python binding (mmh3.hash64(data, 0, signed=False)), run once outside the project
KNOWN = {
    "": (0, 0),
    "a": (9607679276477937801, 16624257681780017498),
    "hello": (14688674573012802306, 6565844092913065241),
    "e000000001": (17626127087641958496, 8075826527312368023),
    "x" * 15: (2088934356530938522, 4041189709252109316),
    "y" * 16: (8880037273788572859, 5604621609374615428),
    "z" * 17: (1197921854538287573, 10605294805930500215),
    "事件-123": (676894052660613006, 479375825278718157),
    "abcdefghijklmnopqrstuvwxyz0123456789": (17463111482660052538, 4149707753321764032),
}

needs_c = pytest.mark.skipif(C is None, reason="the C module is not built here")
MEMORIES: list[Callable[[], IdMemory]] = [PyAdmittedIds]
if C is not None:
    MEMORIES.append(C.AdmittedIds)


@pytest.mark.parametrize(("event_id", "expected"), KNOWN.items())
def test_the_twin_fingerprints_as_the_reference_murmur3(
    event_id: str, expected: tuple[int, int]
) -> None:
    assert py_fingerprint(event_id) == expected


@needs_c
@pytest.mark.parametrize(("event_id", "expected"), KNOWN.items())
def test_the_c_type_fingerprints_as_the_reference_murmur3(
    event_id: str, expected: tuple[int, int]
) -> None:
    assert C.fingerprint(event_id) == expected


@needs_c
@given(st.text(max_size=80))
def test_c_and_twin_fingerprint_every_text_alike(event_id: str) -> None:
    assert C.fingerprint(event_id) == py_fingerprint(event_id)


@pytest.mark.parametrize("memory", MEMORIES)
def test_an_id_is_taken_once_then_refused(memory: Callable[[], IdMemory]) -> None:
    ids = memory()
    assert ids.add("e1", 10.0) is True
    assert ids.add("e1", 10.0) is False
    assert ids.add("e1", 99.0) is False  # the id, whatever its time
    assert ids.add("e2", 11.0) is True
    assert len(ids) == 2
    assert "e1" in ids and "e2" in ids and "e3" not in ids


@pytest.mark.parametrize("memory", MEMORIES)
def test_ids_are_forgotten_from_the_oldest_admitted_while_older_than_the_cutoff(
    memory: Callable[[], IdMemory],
) -> None:
    ids = memory()
    for event_id, ts in (("a", 1.0), ("b", 2.0), ("c", 5.0), ("d", 3.0), ("e", 6.0)):
        ids.add(event_id, ts)
    assert ids.forget_before(3.0) == 2  # a and b
    assert [ts for _, _, ts in ids.dump()] == [5.0, 3.0, 6.0]
    # the front (c, 5.0) is not too old: d waits behind it, as ids come roughly in order
    assert ids.forget_before(4.0) == 0
    assert "d" in ids
    assert ids.forget_before(7.0) == 3
    assert len(ids) == 0 and ids.dump() == []
    assert ids.add("a", 8.0) is True  # forgotten, so taken again


@pytest.mark.parametrize("memory", MEMORIES)
def test_a_dump_restores_to_the_same_memory(memory: Callable[[], IdMemory]) -> None:
    ids = memory()
    for i in range(3000):
        ids.add(f"e{i}", float(i))
    ids.forget_before(1000.0)
    copy = memory()
    for a, b, ts in ids.dump():
        assert copy.restore(a, b, ts) is True
    assert copy.dump() == ids.dump()
    assert copy.add("e1500", 1500.0) is False and copy.add("e999", 999.0) is True
    a, b, ts = ids.dump()[0]
    assert copy.restore(a, b, ts) is False  # held already


@needs_c
def test_c_and_twin_dump_alike_so_a_snapshot_restores_in_either() -> None:
    c, py = C.AdmittedIds(), PyAdmittedIds()
    for i in range(500):
        for ids in (c, py):
            ids.add(f"id-{i}", i * 0.5)
    assert c.dump() == py.dump()


@pytest.mark.parametrize("memory", MEMORIES)
def test_long_churn_matches_a_plain_model(memory: Callable[[], IdMemory]) -> None:
    """Bursts, forgetting and re-use of ids, against a dict and a list: every answer
    alike, through the C table's growth, shrinking and shifted deletions."""
    rnd = random.Random(7)
    ids = memory()
    held: dict[str, float] = {}
    order: list[str] = []
    now = 0.0
    for step in range(60_000):
        burst = 40 if 20_000 <= step < 25_000 else 1  # a burst grows the table, then shrinks
        for _ in range(burst):
            event_id = f"e{rnd.randrange(200_000)}"
            ts = now - rnd.random() * 5
            new = event_id not in held
            assert ids.add(event_id, ts) is new
            if new:
                held[event_id] = ts
                order.append(event_id)
        now += 1.0
        if step % 7 == 0:
            cutoff = now - 300
            forgotten = 0
            while order and held[order[0]] < cutoff:
                del held[order.pop(0)]
                forgotten += 1
            assert ids.forget_before(cutoff) == forgotten
            assert len(ids) == len(held)
    assert all(event_id in ids for event_id in held)
    assert [ts for _, _, ts in ids.dump()] == [held[e] for e in order]


@needs_c
def test_the_c_table_gives_a_burst_s_memory_back() -> None:
    ids = C.AdmittedIds()
    start = ids.capacity()
    for i in range(100_000):
        ids.add(f"e{i}", float(i))
    assert ids.capacity() >= 2 * 100_000  # at most half full
    ids.forget_before(99_990.0)
    assert len(ids) == 10
    assert ids.capacity() == start  # shrunk as the ids went
    assert ids.add("e99995", 99_995.0) is False and ids.add("e5", 5.0) is True


@pytest.mark.parametrize("memory", MEMORIES)
def test_an_id_that_is_not_text_is_refused_clearly(memory: Callable[[], IdMemory]) -> None:
    ids = memory()
    with pytest.raises(TypeError, match="event id is a str"):
        _ = b"e1" in ids  # type: ignore[operator]
    with pytest.raises(TypeError, match="event id is a str"):
        ids.add(b"e1", 1.0)  # type: ignore[arg-type]
    assert len(ids) == 0  # nothing taken
