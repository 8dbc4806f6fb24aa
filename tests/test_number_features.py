"""The number side's novelty feature, `active_s`: how long ago a calling number was first
seen (in retained state), as rules read it, kept and restored."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.features import NUMBER, clears
from fraud_warning.join import Joiner
from fraud_warning.refdata import RefData
from fraud_warning.registry import load_registry
from fraud_warning.stages import snapshot
from fraud_warning.state import ACTIVE_CAP_S, HOUR_S, NumberState, StateStore, hour_bucket
from fraud_warning.wire import Call, Sms

T0 = datetime.fromisoformat("2026-03-02T09:17:42+08:00")  # not on an hour or a minute
CALLER = "+8615012345678"
ACTIVE = NUMBER.index("active_s")
FANOUT = NUMBER.index("fanout_1h")


def _call(at_s: float, caller: str = CALLER, callee: str = "+8613900000001") -> Call:
    ts = T0 + timedelta(seconds=at_s)
    return Call(event_id=f"c{at_s}", ts=ts, caller=caller, callee=callee, duration_s=5)


def _sms(at_s: float, sender: str = CALLER) -> Sms:
    ts = T0 + timedelta(seconds=at_s)
    return Sms(event_id=f"s{at_s}", ts=ts, sender=sender, receiver="+8613900000002")


def _joiner(store: StateStore | None = None) -> Joiner:
    wanted = {"number": 0.0, "number_sms": 0.0}
    return Joiner(store or StateStore(), RefData.empty(), wanted)


def _number_call(joiner: Joiner, ev: Call) -> list[float] | None:
    ts = ev.ts.timestamp()
    return joiner.number.call(ev.caller, ev.callee, ev.duration_s, ev.origin, ts)[1]


def _active(joiner: Joiner, at_s: float, callee: str = "+8613900000001") -> float:
    row = _number_call(joiner, _call(at_s, callee=callee))
    assert row is not None and len(row) == len(NUMBER)
    return row[ACTIVE]


def test_a_new_number_reads_its_age_to_the_minute_across_hours() -> None:
    joiner = _joiner()
    # the first event's 42 s past the minute are dropped: ages read up to a minute high
    assert _active(joiner, 0) == 42.0  # its first call: just appeared
    for at_s in (30, 600, 1337, 3 * HOUR_S + 5, 7 * HOUR_S + 1234):
        assert at_s <= _active(joiner, at_s) < at_s + 60


def test_the_age_is_capped_at_a_day() -> None:
    joiner = _joiner()
    _active(joiner, 0)
    for at_s in (23 * HOUR_S, 24 * HOUR_S - 61):
        assert _active(joiner, at_s) < ACTIVE_CAP_S
    # calling every few hours for two days: established, not ageing further
    for hours in (24, 25, 26, 30, 40, 47):
        assert _active(joiner, hours * HOUR_S + 7) == ACTIVE_CAP_S


def test_an_sms_starts_the_age_too() -> None:
    joiner = _joiner()
    ev = _sms(0)
    joiner.number.sms(ev.sender, ev.receiver, ev.text, ev.has_url, ev.ts.timestamp())
    assert 1800 <= _active(joiner, 1800) < 1860


def test_a_number_idle_longer_than_the_retention_reads_as_new_again() -> None:
    store = StateStore(retention_s=26 * HOUR_S)
    joiner = _joiner(store)
    _active(joiner, 0)
    assert _active(joiner, 20 * HOUR_S) == pytest.approx(20 * HOUR_S, abs=60)
    # idle 26 h and a minute: its state expired, so it is a new number again
    assert _active(joiner, 46 * HOUR_S + 61) < 60


def test_other_numbers_keep_their_own_age() -> None:
    joiner = _joiner()
    _active(joiner, 0)
    row = _number_call(joiner, _call(5 * HOUR_S, caller="+8618600000009"))
    assert row is not None and row[ACTIVE] < 60
    assert _active(joiner, 5 * HOUR_S + 10) >= 5 * HOUR_S


def test_a_late_event_never_reads_a_negative_age() -> None:
    joiner = _joiner()
    _active(joiner, 2 * HOUR_S)
    assert _active(joiner, HOUR_S) < 60  # earlier than the first seen: as new as can be
    assert _active(joiner, 2 * HOUR_S + 600) >= 600


def test_a_burst_in_the_first_minutes_reads_as_new_and_fanning_out() -> None:
    joiner = _joiner()
    row: list[float] | None = None
    for k in range(40):
        row = _number_call(joiner, _call(20 * k, callee=f"+86139000{k:05d}"))
    assert row is not None
    assert row[FANOUT] == 40 and row[ACTIVE] < 20 * 40 + 60


def _snapshot_numbers(values: list[object]) -> StateStore:
    snap = snapshot._Snapshot(
        format=snapshot.FORMAT,
        stage="N",
        partition=0,
        positions=snapshot.Positions(offset=0, sent={}),
        victims={},
        numbers={CALLER: values},
        payees={},
        flags={},
    )
    store = StateStore()
    # through msgpack, as a checkpoint travels
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(snap), type=snapshot._Snapshot)
    snapshot._fill(store, decoded)
    return store


def test_a_snapshot_carries_the_age() -> None:
    joiner = _joiner()
    _active(joiner, 0)
    _active(joiner, 3 * HOUR_S)
    state = joiner.store.numbers.get(CALLER, T0.timestamp() + 3 * HOUR_S)
    assert state is not None
    restored = _snapshot_numbers(snapshot._number_out(state))
    back = restored.numbers.get(CALLER, T0.timestamp() + 3 * HOUR_S)
    assert back is not None
    assert (back.age_h, back.born_m, back.bucket) == (state.age_h, state.born_m, state.bucket)
    ts = T0.timestamp() + 3.5 * HOUR_S
    assert back.active_s(ts) == state.active_s(ts)


def test_a_snapshot_from_before_the_age_reads_as_an_established_number() -> None:
    joiner = _joiner()
    _active(joiner, 0)
    state = joiner.store.numbers.get(CALLER, T0.timestamp())
    assert state is not None
    old = snapshot._number_out(state)[:13]  # the format before active_s: no age
    back = _snapshot_numbers(old).numbers.get(CALLER, T0.timestamp())
    assert back is not None
    assert back.active_s(T0.timestamp() + 60) == ACTIVE_CAP_S


def test_the_age_costs_two_small_ints_per_number() -> None:
    state = NumberState()
    state.roll(T0.timestamp())
    state.roll(T0.timestamp() + 5 * HOUR_S)
    assert (state.age_h, state.born_m) == (5, 17)
    # whatever the age, both stay within the ints CPython shares (-5..256): the age
    # allocates nothing beyond its two 8-byte slots
    for hours in range(0, 60, 7):
        state.roll(T0.timestamp() + hours * HOUR_S)
        assert 0 <= state.age_h <= 256 and 0 <= state.born_m < 60


def test_a_row_clears_the_gate_only_at_or_above_every_bound() -> None:
    registry = load_registry(Path(__file__).resolve().parents[1] / "rules")
    gate = registry.gate("number")
    assert gate  # the shipped number rules share lower bounds
    at = [0.0] * len(NUMBER)
    for index, bound in gate:
        at[index] = bound
    assert clears(gate, at)
    for index, bound in gate:
        below = list(at)
        below[index] = bound - 1e-9
        assert not clears(gate, below)
    # a NaN is not below a bound: the rules see it, as before the gate moved
    assert clears(gate, [float("nan")] * len(NUMBER))
    assert clears((), [])


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
        # the hour's edges and their neighbours, where a rounding slip would show
        st.integers(-(10**8), 10**8).map(lambda h: h * HOUR_S),
        st.integers(-(10**8), 10**8).map(lambda h: math.nextafter(h * HOUR_S, -math.inf)),
        st.integers(-(10**8), 10**8).map(lambda h: math.nextafter(h * HOUR_S, math.inf)),
    )
)
def test_the_hour_bucket_is_the_float_floor_division(ts: float) -> None:
    """The number side's hour buckets, in integers, are the hours `ts // HOUR_S` gave."""
    assert hour_bucket(ts) == int(ts // HOUR_S)
