"""Objects that cannot be in a cycle, kept out of the cyclic GC's sight (untrack.py):
the C function and its twin, what the compiled state untracks, and that it is safe."""

from __future__ import annotations

import gc
import sys

import pytest

from fraud_warning.state import (
    MAX_PAYEE_INBOUND,
    Credit,
    Inbound,
    Keyed,
    Payment,
    Recent,
    _add_distinct,
    chain,
)
from fraud_warning.untrack import compiled, py_untrack
from fraud_warning.windowlang import parse_feature
from fraud_warning.windows import Windows

C = compiled()
STATE_COMPILED = "cpython" in str(sys.modules["fraud_warning.state"].__file__)
compiled_only = pytest.mark.skipif(
    C is None or not STATE_COMPILED, reason="nothing compiled here (interpreted)"
)


def _records() -> list[Recent]:
    return [
        Inbound(1.0, "+8613800000001", 60, True, 0, False, 3.0),
        Payment(1.0, "6222000000000000001", 10.0, True),
        Credit(1.0, "+8613800000001", 10.0, True, False),
    ]


@pytest.mark.skipif(C is None, reason="the C module is not built here")
def test_the_c_function_untracks_containers_and_leaves_the_rest_alone() -> None:
    pair, box = tuple(["+8613800000001", 1.5]), [1, 2]  # built at run time: tracked
    assert gc.is_tracked(pair) and gc.is_tracked(box)
    assert C.untrack(pair) is None
    assert C.untrack(box) is None
    assert not gc.is_tracked(pair) and not gc.is_tracked(box)
    assert C.untrack(pair) is None  # twice is harmless
    for atom in ("+8613800000001", 3, 2.5, None):
        assert C.untrack(atom) is None  # not a GC object: nothing to do
    del pair, box  # freed as usual once untracked


def test_the_twin_leaves_objects_tracked() -> None:
    box = [1, 2]
    assert py_untrack(box) is None
    assert gc.is_tracked(box)


def test_records_hold_only_strings_numbers_and_an_older_record() -> None:
    """Why untracking them is safe: nothing a record refers to can lead back to it."""
    older, newer = _records()[0], Inbound(2.0, "+8613800000002", 5, False, 1, True, 1.0)
    newer.prev = older
    for record in [*_records(), newer]:
        for ref in gc.get_referents(record):
            assert ref is older or type(ref) in (str, float, int, bool, type(None)), ref


@compiled_only
def test_compiled_records_are_untracked_and_keep_their_gc_header() -> None:
    """Untracked, not mypyc-acyclic: the header stays, for the trashcan of a deep free."""
    for record in _records():
        assert not gc.is_tracked(record), type(record)
        assert type(record).__flags__ & (1 << 14), type(record)  # Py_TPFLAGS_HAVE_GC


@compiled_only
def test_freeing_long_chains_of_untracked_records_is_safe() -> None:
    """A chain freed from its newest record nests one dealloc per record; past 50 CPython's
    trashcan defers the rest through the GC header (the crash that keeps the records from
    being mypyc-acyclic). Far longer chains than any cap, freed a few ways."""
    for _ in range(3):
        newest = chain([Credit(float(i), "+8613800000001", 1.0, False, False) for i in range(5000)])
        assert newest is not None and not gc.is_tracked(newest)
        del newest
    payees = Keyed(3600.0)
    for i in range(MAX_PAYEE_INBOUND * 4):
        payees.touch("6222000000000000001", float(i)).add(
            Credit(float(i), f"+86138{i:08d}", 1.0, False, False)
        )
    assert payees.evict_idle(1e9) == 1  # the payee and its chain freed
    gc.collect()


@compiled_only
def test_small_distinct_sets_are_untracked_tuples() -> None:
    keys = _add_distinct("+8613800000001", "+8613800000002", 64, forget=True)
    assert keys == ("+8613800000001", "+8613800000002") and not gc.is_tracked(keys)
    grown = _add_distinct(keys, "+8613800000003", 64, forget=True)
    assert len(grown) == 3 and not gc.is_tracked(grown)


@compiled_only
def test_window_entries_are_untracked() -> None:
    from fraud_warning.state import Subscriber

    spec = parse_feature("distinct(sms.sender, within=24h)", "victim")
    windows = Windows({"sms": [spec]})
    state = Subscriber()
    fields = ("+8613800000001", "hello", False, False, False, 0.0, False)
    windows.record(state, "victim:sms", 10.0, fields)
    windows.record(state, "victim:sms", 20.0, fields)
    assert state.windows is not None
    entries = [entry for held in state.windows.values() for entry in held]
    assert len(entries) == 2 and not any(gc.is_tracked(entry) for entry in entries)
