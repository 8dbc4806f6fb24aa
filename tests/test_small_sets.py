"""Compact state: a distinct-key container is the key itself, then a tuple, then a dict,
and decoded numbers are shared.

Each must read exactly as the plain dict / set it replaces, across every switch of form
and at the cap."""

from __future__ import annotations

import random
from pathlib import Path

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.registry import load_registry
from fraud_warning.state import (
    MAX_CONTACTS,
    MAX_FANOUT_SET,
    SMALL,
    NumberState,
    VictimState,
    distinct_count,
    distinct_keys,
    newest_first,
)

ROOT = Path(__file__).resolve().parents[1]


def _numbers(seed: int, n: int, pool: int) -> list[str]:
    rng = random.Random(seed)
    return [f"+86138{rng.randrange(pool):08d}" for _ in range(n)]


def test_contacts_read_as_a_capped_insertion_ordered_dict() -> None:
    for seed, pool in ((1, 5), (2, 12), (3, 200)):
        state, plain = VictimState(), dict[str, None]()
        for number in _numbers(seed, 400, pool):
            assert state.knows(number) == (number in plain)
            state.add_contact(number)
            if number not in plain:
                if len(plain) >= MAX_CONTACTS:
                    del plain[next(iter(plain))]
                plain[number] = None
            assert distinct_keys(state._contacts) == list(plain)


def test_contacts_are_the_number_itself_then_a_tuple_while_few() -> None:
    state = VictimState()
    first, *rest = _numbers(4, SMALL, 10**6)
    state.add_contact(first)
    assert _form(state) is str and distinct_keys(state._contacts) == [first]
    state.add_contact(first)
    assert _form(state) is str and distinct_keys(state._contacts) == [first]
    for number in rest:
        state.add_contact(number)
    assert _form(state) is tuple and distinct_count(state._contacts) == SMALL
    state.add_contact("+8613999999999")
    assert _form(state) is dict and distinct_count(state._contacts) == SMALL + 1


def _form(state: VictimState) -> type:
    return type(state._contacts)


def test_a_single_contact_is_never_searched_as_a_string() -> None:
    """A lone contact is held as the number itself: asking about a prefix or a part of
    it, or the empty string, must not match as a substring would."""
    state = VictimState()
    state.add_contact("+8613800000001")
    for other in ("+86138", "13800000001", "", "1", "+86138000000012"):
        assert not state.knows(other)
    assert state.knows("+8613800000001")
    state.add_payee("6222000000000000001")
    assert not state.has_paid("6222") and state.has_paid("6222000000000000001")


def test_callees_count_distinct_numbers_up_to_the_cap() -> None:
    for seed, n, pool in ((1, 50, 4), (2, 50, 30), (3, 3000, 10**6)):
        state, plain = NumberState(), set[str]()
        for number in _numbers(seed, n, pool):
            state.add_callee(number)
            if len(plain) < MAX_FANOUT_SET:
                plain.add(number)
            assert distinct_count(state.callees) == len(plain)
        assert set(distinct_keys(state.callees)) == plain


def test_state_holds_one_string_per_number_whoever_sent_it() -> None:
    """Each event brings its own copies of its numbers and cells (so do the distributed
    runner's stage records): state interns what it keeps, so a number held as a key, a
    contact and in a stranger's record is one string, and a cell is one string."""
    lines = [
        b'{"event_id":"a","type":"call","ts":"2026-03-02T09:00:00+08:00",'
        b'"caller":"+8613800000001","callee":"+8613800000002","duration_s":60,'
        b'"caller_cell":"C00001","callee_cell":"C00001"}',
        b'{"event_id":"b","type":"sms","ts":"2026-03-02T09:00:01+08:00",'
        b'"sender":"+8613800000003","receiver":"+8613800000001","sender_cell":"C00001"}',
        b'{"event_id":"c","type":"call","ts":"2026-03-02T09:00:02+08:00",'
        b'"caller":"+8613800000003","callee":"+8613800000002","duration_s":30}',
        b'{"event_id":"d","type":"transfer","ts":"2026-03-02T09:00:03+08:00",'
        b'"payer":"+8613800000001","payer_account":"6222000000000000001",'
        b'"payee_account":"6222000000000000002","amount_cny":10,"channel":"atm"}',
    ]
    good, bad = Decoder().decode_lines(enumerate(lines))
    assert bad == []
    engine = Engine(load_registry(ROOT / "rules"))
    engine.process(good)
    store = engine.store
    held = {key: key for key in [*store.victims._items, *store.numbers._items]}
    a, b, c = (held[f"+861380000000{i}"] for i in (1, 2, 3))
    victim_a = store.victims.get(a, 0.0)
    victim_b = store.victims.get(b, 0.0)
    assert victim_a is not None and victim_b is not None
    assert victim_a._contacts is b  # a called b: the contact is b's key
    inbound_a = newest_first(victim_a.inbound)[::-1]
    inbound_b = newest_first(victim_b.inbound)[::-1]
    assert [r.number for r in inbound_a] == [c] and inbound_a[0].number is c
    assert [r.number for r in inbound_b] == [a, c]  # two strangers called b
    assert inbound_b[0].number is a and inbound_b[1].number is c
    number_c = store.numbers.get(c, 0.0)
    assert number_c is not None and number_c.callees == (a, b)
    first, second = distinct_keys(number_c.callees)
    assert first is a and second is b
    assert victim_a.last_cell == "C00001" and victim_a.last_cell is victim_b.last_cell
    payee = next(iter(store.payees._items))
    assert (
        victim_a.transfers is not None
        and victim_a.transfers.payee is payee
        and victim_a._payees is payee
    )


def test_fanout_reads_as_the_hourly_distinct_callees() -> None:
    rng = random.Random(7)
    state, ts = NumberState(), 1_772_409_600.0
    for number in _numbers(8, 2000, 40):
        ts += rng.choice([1.0, 30.0, 600.0, 4000.0])
        state.roll(ts)
        state.add_callee(number)
        later = ts + rng.uniform(0, 7200)
        for at in (ts, later):
            assert state.fanout(at) == state.hourly(at)[0]
