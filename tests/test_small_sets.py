"""Compact state: a distinct-key container is the key itself, then a tuple, then a dict,
and decoded numbers are shared.

Each must read exactly as the plain dict / set it replaces, across every switch of form
and at the cap."""

from __future__ import annotations

import random

from fraud_warning.decode import Decoder
from fraud_warning.state import (
    MAX_CONTACTS,
    MAX_FANOUT_SET,
    SMALL,
    NumberState,
    VictimState,
    distinct_count,
    distinct_keys,
)


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


def test_decoded_events_share_one_string_per_number_and_cell() -> None:
    lines = [
        b'{"event_id":"a","type":"call","ts":"2026-03-02T09:00:00+08:00",'
        b'"caller":"+8613800000001","callee":"+8613800000002","duration_s":60,'
        b'"caller_cell":"C00001"}',
        b'{"event_id":"b","type":"sms","ts":"2026-03-02T09:00:01+08:00",'
        b'"sender":"+8613800000002","receiver":"+8613800000001","sender_cell":"C00001"}',
        b'{"event_id":"c","type":"transfer","ts":"2026-03-02T09:00:02+08:00",'
        b'"payer":"+8613800000001","payer_account":"6222000000000000001",'
        b'"payee_account":"6222000000000000002","amount_cny":10,"channel":"atm"}',
    ]
    good, bad = Decoder().decode_lines(enumerate(lines))
    assert bad == []
    call, sms, transfer = (item.event for item in good)
    assert call.caller is sms.receiver is transfer.payer  # type: ignore[union-attr]
    assert call.callee is sms.sender  # type: ignore[union-attr]
    assert call.caller_cell is sms.sender_cell  # type: ignore[union-attr]
    # the batch path (a record holding a JSON array) shares them too
    (again,), _ = Decoder().decode_record(b"[" + lines[0] + b"]", 7)
    assert again.event.caller is call.caller  # type: ignore[union-attr]


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
