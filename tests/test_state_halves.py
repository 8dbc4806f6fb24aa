"""A subscriber's victim and number halves share one object under one key, and each
half still lives and expires as if it were alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fraud_warning.refdata import RefData
from fraud_warning.registry import load_registry
from fraud_warning.stages import snapshot
from fraud_warning.stages.tasks import STAGES, Context, NumberTask
from fraud_warning.state import (
    HOUR_S,
    NEVER,
    Inbound,
    Payment,
    StateStore,
    Subscriber,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_772_409_600.0
VICTIM = {"_contacts", "_payees", "inbound", "transfers", "last_cell", "victim_ts"}
NUMBER = {
    "bucket",
    "calls",
    "short_calls",
    "long_calls",
    "prev_distinct",
    "prev_calls",
    "prev_short",
    "prev_long",
    "age_h",
    "born_m",
    "risky_origin",
    "callees",
    "flagged_at",
    "number_ts",
}
WINDOWS = {"victim:sms.*": [(T0, 1.0)], "number:call.*": [(T0, 1.0)]}


def busy() -> Subscriber:
    """A subscriber with every field of both halves away from its fresh value."""
    s = Subscriber()
    s.add_contact("+8613800000001")
    s.add_payee("6222000000000000001")
    s.add_inbound(Inbound(T0, "+8617000000001", 30, True, 0, False, 2.0))
    s.add_transfer(Payment(T0, "6222000000000000001", 500.0, True))
    s.set_cell("C00001")
    s.victim_ts = s.number_ts = T0
    s.roll(T0)
    s.roll(T0 + HOUR_S)  # a second bucket: the age moves
    s.add_callee("+8613800000002")
    s.calls = s.short_calls = s.long_calls = 3
    s.prev_distinct = s.prev_calls = s.prev_short = s.prev_long = 2
    s.born_m, s.risky_origin, s.flagged_at = 7, True, T0
    s.windows = {k: list(v) for k, v in WINDOWS.items()}
    return s


def fields(s: Subscriber, names: set[str]) -> dict[str, Any]:
    return {name: getattr(s, name) for name in names}


def test_every_field_belongs_to_one_half() -> None:
    # a new field must be cleared with its half (and listed here); the key is neither's
    declared = getattr(Subscriber, "__mypyc_attrs__", None) or Subscriber.__slots__
    assert VICTIM | NUMBER | {"windows", "key"} == set(declared)
    fresh, full = Subscriber(), busy()
    assert all(fields(full, {n})[n] != fields(fresh, {n})[n] for n in VICTIM | NUMBER)


def test_clearing_a_half_leaves_it_as_new_and_the_other_as_it_was() -> None:
    fresh = Subscriber()
    s = busy()
    number = fields(s, NUMBER)
    s.clear_victim()
    assert fields(s, VICTIM) == fields(fresh, VICTIM)
    assert fields(s, NUMBER) == number
    assert s.windows == {"number:call.*": WINDOWS["number:call.*"]}
    s = busy()
    victim = fields(s, VICTIM)
    s.clear_number()
    assert fields(s, NUMBER) == fields(fresh, NUMBER)
    assert fields(s, VICTIM) == victim
    assert s.windows == {"victim:sms.*": WINDOWS["victim:sms.*"]}
    s.clear_victim()
    assert s.windows is None


def test_a_half_expires_on_its_own() -> None:
    store = StateStore(retention_s=26 * HOUR_S)
    victim = store.victims.touch("+8613800000009", T0)
    victim.add_contact("+8613800000001")
    number = store.numbers.touch("+8613800000009", T0 + 25 * HOUR_S)
    number.roll(T0 + 25 * HOUR_S)
    number.calls += 1
    assert number is victim  # one object under one key
    later = T0 + 27 * HOUR_S
    assert store.victims.get("+8613800000009", later) is None
    assert store.numbers.get("+8613800000009", later) is number
    again = store.victims.touch("+8613800000009", later)
    assert again is number and not again.knows("+8613800000001")  # the victim half anew
    assert (again.calls, again.victim_ts) == (1, later)  # the number half as it was
    assert store.sizes() == {"victims": 1, "numbers": 1, "payees": 0}


def test_the_sweep_clears_an_idle_half_and_drops_a_subscriber_once_both_are() -> None:
    store = StateStore(retention_s=HOUR_S)
    both, caller = "+8613800000001", "+8613800000002"
    store.victims.touch(both, T0).add_contact(caller)
    store.numbers.touch(both, T0)
    store.victims.touch(caller, T0)
    store.numbers.touch(caller, T0 + 2 * HOUR_S)
    assert store.sizes() == {"victims": 2, "numbers": 2, "payees": 0}
    gone = store.evict_idle(T0 + 2.5 * HOUR_S)
    assert gone == 1 and not store.victims.held(both) and not store.numbers.held(both)
    assert not store.victims.held(caller) and store.numbers.held(caller)
    assert store.sizes() == {"victims": 0, "numbers": 1, "payees": 0}
    state = store.numbers.get(caller, T0 + 2.5 * HOUR_S)
    assert state is not None and state.victim_ts == NEVER and state._contacts == ()
    assert [k for k, _ in store.numbers.items()] == [caller] and not list(store.victims.items())


def test_the_size_estimate_counts_each_subscriber_once() -> None:
    store = StateStore()
    for i in range(100):
        key = f"+86138{i:08d}"
        store.victims.touch(key, T0).add_contact("+8613800000001")
        store.numbers.touch(key, T0).add_callee("+8613800000001")
    estimate = store.estimate_bytes()
    assert 100 * 160 < estimate["victims"] < 100 * 400  # key and object, on the victim side
    assert 0 <= estimate["numbers"] < 100 * 100  # a one-callee container: the interned key


def test_a_snapshot_of_both_halves_restores_both() -> None:
    # the embedded store holds both halves of a key; a stage's snapshot of such a store
    # restores each half into the one object, windows included
    ctx = Context(load_registry(ROOT / "rules"), RefData.empty(), dict.fromkeys(STAGES, 1))
    task = NumberTask(ctx, 0)
    full = busy()
    for half, ts in ((task.store.victims, full.victim_ts), (task.store.numbers, full.number_ts)):
        state = half.touch("+8613800000009", ts)
    for name in VICTIM | NUMBER | {"windows"}:
        setattr(state, name, getattr(full, name))
    data = snapshot.dump(task)
    restored, _ = snapshot.load(ctx, data)
    assert isinstance(restored, NumberTask)
    (key, back), *rest = restored.store.victims.items()
    assert key == "+8613800000009" and not rest
    assert restored.store.numbers.get(key, T0) is back
    assert back.windows == WINDOWS
    assert snapshot.dump(restored) == data
    assert restored.store.sizes() == {"victims": 1, "numbers": 1, "payees": 0}


def test_canonical_is_the_key_the_store_holds() -> None:
    """An event's numbers come back as the store's own interned key (what it records
    under them then needs no intern lookup), the subscriber created untouched if new."""
    store = StateStore()
    key = store.victims.canonical("".join(["+86138", "00000042"]))
    fresh = "".join(["+86138", "00000042"])  # built at run time: a copy, not interned
    assert fresh == key and fresh is not key
    assert store.victims.canonical(fresh) is key is sys.intern(fresh)
    assert not store.victims.held(key) and not store.numbers.held(key)
    assert store.victims.touch(fresh, T0).key is key
    assert [k for k, _ in store.victims.items()] == [key]
