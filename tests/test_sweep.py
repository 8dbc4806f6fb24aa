"""The store's idle-key sweep paced by event time (StateStore.sweep)."""

from __future__ import annotations

from fraud_warning.state import HOUR_S, SWEEP_PASS, StateStore

T0 = 1_772_400_000.0
RETENTION = 4 * HOUR_S


def _store(subscribers: int, payees: int) -> StateStore:
    store = StateStore(retention_s=RETENTION)
    for i in range(subscribers):
        store.victims.touch(f"+86138{i:08d}", T0)
    for i in range(payees):
        store.payees.touch(f"6222{i:015d}", T0)
    store.sweep(T0, 0)  # the first sweep: a small slice, and the pace starts here
    return store


def _held(store: StateStore) -> tuple[int, int]:
    return len(store.victims), len(store.payees)


def test_every_idle_key_goes_within_half_a_retention_of_expiring() -> None:
    """Batches of 2,000 events a minute of event time: the slices cover each side once per
    SWEEP_PASS of the retention, however large the side."""
    store = _store(20_000, 3_000)
    expired = T0 + RETENTION + 1.0
    t = expired
    while _held(store) != (0, 0):
        t += 60.0
        store.sweep(t, 2_000)
        assert t < expired + 2 * SWEEP_PASS * RETENTION, _held(store)


def test_a_slice_checks_the_share_event_time_calls_for() -> None:
    store = _store(20_000, 3_000)
    expired = T0 + RETENTION + 1.0
    store.sweep(expired, 2_000)  # a jump: as many as the batch allows, on each side
    assert _held(store) == (20_000 - 1_016, 3_000 - 1_016)
    store.sweep(expired + 60.0, 2_000)  # a sixtieth of a pass: of the keys it started with
    assert _held(store) == (20_000 - 1_016 - 334, 3_000 - 1_016 - 50)
    store.sweep(expired + 61.0, 2_000)  # a second: the least slice
    assert _held(store) == (20_000 - 1_016 - 334 - 16, 3_000 - 1_016 - 50 - 16)
    store.sweep(expired + 36_000.0, 0)  # no events: the least slice, whatever the time
    assert _held(store) == (20_000 - 1_016 - 334 - 32, 3_000 - 1_016 - 50 - 32)


def test_a_batch_whose_events_allow_it_sweeps_everything_after_a_jump() -> None:
    store = _store(20_000, 100)
    store.sweep(T0 + RETENTION + 1.0, 100_000)  # the cap (50,016) allows every key left
    assert _held(store) == (16, 16)  # those the first slice checked, still live then
    store.sweep(T0 + RETENTION + 2.0, 0)  # the next sweep starts with them
    assert _held(store) == (0, 0)


def test_nothing_is_evicted_before_it_expires() -> None:
    store = _store(5_000, 500)
    for minute in range(1, int(RETENTION / 60)):
        store.sweep(T0 + 60.0 * minute, 2_000)
    assert _held(store) == (5_000, 500)
