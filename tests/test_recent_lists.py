"""Recent-event chains forget by age as well as by count, without changing a feature."""

from __future__ import annotations

import random
import sys

from fraud_warning.features import payee_features, payer_features, victim_context
from fraud_warning.state import (
    CALL,
    MAX_INBOUND,
    MAX_PAYEE_INBOUND,
    MAX_TRANSFERS,
    RECENT_S,
    SMS,
    Credit,
    Inbound,
    PayeeState,
    Payment,
    Recent,
    StateStore,
    VictimState,
    _forget,
    _link,
    _push,
    chain,
    deep_size,
    newest_first,
)

HOUR = 3600.0


def _events(seed: int, days: int) -> list[float]:
    """Event times over `days`, in bursts and quiet spells, a few up to 10 min late."""
    rng = random.Random(seed)
    ts, out = 0.0, []
    while ts < days * 24 * HOUR:
        ts += rng.choice([30.0, 300.0, 3 * HOUR, 20 * HOUR])
        late = rng.random() < 0.1
        out.append(ts - rng.uniform(0, 600) if late else ts)
    return out


def test_chains_hold_a_day_at_most_and_read_as_untrimmed_ones() -> None:
    """Untrimmed copies (count cap only, as before) give the same features at every
    event, while the trimmed chains never hold an entry older than RECENT_S."""
    victim, payee = VictimState(), PayeeState()
    plain_inbound: list[Inbound] = []
    plain_transfers: list[Payment] = []
    plain_payee: list[Credit] = []
    rng = random.Random(7)
    for i, ts in enumerate(_events(seed=3, days=40)):
        number = f"+86170{rng.randrange(100):08d}"
        kind = rng.choice([CALL, SMS])
        # each record twice: a record links into one chain only
        call = (ts, number, rng.choice([0, 40, 900]), True, kind, kind == SMS, 3.0)
        victim.add_inbound(Inbound(*call))
        plain_inbound = [*plain_inbound, Inbound(*call)][-MAX_INBOUND:]
        transfer = (ts, f"acct{i % 5}", 100.0 + i, i % 3 == 0)
        victim.add_transfer(Payment(*transfer))
        plain_transfers = [*plain_transfers, Payment(*transfer)][-MAX_TRANSFERS:]
        credit = (ts, f"payer{i % 7}", 500.0, i % 2 == 0, i % 4 == 0)
        payee.add(Credit(*credit))
        plain_payee = [*plain_payee, Credit(*credit)][-MAX_PAYEE_INBOUND:]

        newest = max(r.ts for r in plain_inbound)
        assert all(r.ts >= newest - RECENT_S for r in newest_first(victim.inbound))
        assert payee.held == len(newest_first(payee.inbound)) <= 2 * MAX_PAYEE_INBOUND
        reader = VictimState()
        reader.inbound, reader.transfers = chain(plain_inbound), chain(plain_transfers)
        plain = PayeeState()
        plain.inbound = chain(plain_payee)
        for at in (ts, ts - 600.0):  # a trigger now, and one as late as allowed
            assert victim_context(victim, at, {}, False) == victim_context(reader, at, {}, False)
            assert payer_features(victim, "acct1", 50.0, at) == payer_features(
                reader, "acct1", 50.0, at
            )
            assert payee_features(payee, at) == payee_features(plain, at)
    # 40 days of a busy subscriber: the untrimmed lists sit at their caps; the payee's
    # chain, once the sweep has forgotten what is older than RECENT_S, does not
    assert len(plain_payee) == MAX_PAYEE_INBOUND
    payee.forget_before(newest - RECENT_S)
    held = newest_first(payee.inbound)
    assert payee.held == len(held) < MAX_PAYEE_INBOUND
    assert all(r.ts >= newest - RECENT_S for r in held)


def test_a_payee_at_the_cap_reads_its_newest_records_and_is_cut_when_it_doubles() -> None:
    """A mule account: a credit every 30 s from a new payer, some up to 10 min late.
    Its chain grows to twice the cap and is cut back to the cap, and reads at every
    credit as the newest MAX_PAYEE_INBOUND of a plain list do."""
    rng = random.Random(5)
    payee, plain = PayeeState(), PayeeState()
    kept: list[Credit] = []
    lengths = set()
    for i in range(1_000):
        ts = i * 30.0 - (rng.uniform(0, 600) if rng.random() < 0.1 else 0.0)
        credit = (ts, f"payer{i}", rng.choice([100.0, 5_000.0]), i % 3 == 0, i % 5 == 0)
        payee.add(Credit(*credit))
        kept = [*kept, Credit(*credit)][-MAX_PAYEE_INBOUND:]
        plain.restore(list(kept))
        lengths.add(payee.held)
        assert payee.held == len(newest_first(payee.inbound))
        for at in (ts, i * 30.0, i * 30.0 - 600.0):
            assert payee_features(payee, at) == payee_features(plain, at)
    assert min(lengths) == 1 and max(lengths) == 2 * MAX_PAYEE_INBOUND
    assert MAX_PAYEE_INBOUND in lengths


def test_the_store_sweep_forgets_a_kept_payees_old_records() -> None:
    """A payee still in retention keeps its key; the sweep forgets its records older
    than RECENT_S behind the watermark, and cuts a long chain back to the cap."""
    store = StateStore()
    for i in range(100):
        store.payees.touch("old", i * 60.0).add(Credit(i * 60.0, f"p{i}", 10.0, False, False))
        at = RECENT_S + i * 60.0
        store.payees.touch("busy", at).add(Credit(at, f"p{i}", 10.0, False, False))
    old, busy = store.payees.get("old", 0.0), store.payees.get("busy", RECENT_S)
    assert old is not None and busy is not None and old.held == busy.held == 100
    store.evict_idle(RECENT_S + 50 * 60.0 + 30.0)  # the records before 50.5 min go
    assert len(store.payees) == 2
    assert [r.payer for r in newest_first(old.inbound)] == [f"p{i}" for i in range(99, 50, -1)]
    assert old.held == 49
    assert [r.payer for r in newest_first(busy.inbound)] == [f"p{i}" for i in range(99, 35, -1)]
    assert busy.held == MAX_PAYEE_INBOUND


def _list_kept(records: list[Recent], cap: int) -> list[Recent]:
    """What the oldest-first list held before chains (its trimming, as it was written):
    the reference a chain must match, late records and all."""
    kept = records[:1]
    for record in records[1:]:
        kept.append(record)
        cutoff = record.ts - RECENT_S
        drop = len(kept) - cap
        if kept[0].ts < cutoff:
            old = 0
            while old < len(kept) - 1 and kept[old].ts < cutoff:
                old += 1
            drop = max(drop, old)
        if drop > 0:
            del kept[:drop]
    return kept


def test_a_chain_keeps_what_the_list_kept() -> None:
    """Late records can sit above newer ones; only the old run at the oldest end goes,
    and never more than the cap is kept, as the oldest-first list did."""
    rng = random.Random(11)
    for trial in range(200):
        cap = rng.choice([1, 2, 5, MAX_TRANSFERS])
        records, ts = [], 0.0
        for i in range(rng.randrange(1, 60)):
            ts += rng.choice([60.0, HOUR, 10 * HOUR, 30 * HOUR])
            late = rng.random() < 0.3
            records.append(
                Payment(ts - rng.uniform(0, 40 * HOUR) if late else ts, str(i), 1.0, True)
            )
        expected = [r.payee for r in _list_kept(list(records), cap)]
        newest = None
        for record in records:
            newest = _push(newest, record, cap)
        assert [r.payee for r in reversed(newest_first(newest))] == expected, trial


def _visible(newest_first: list[Recent], cap: int, start: float) -> list[str]:
    """What a reader reads: at most `cap` records, newest first, up to the first one
    older than its window's `start`."""
    out = []
    for record in newest_first[:cap]:
        if record.ts < start:
            break
        out.append(record.payee)  # type: ignore[attr-defined]
    return out


def test_a_payee_chain_reads_as_the_list_kept() -> None:
    """Late records can sit above newer ones. A chain cut only when it doubles (a
    payee's) and at random sweeps reads, for any window starting within RECENT_S of the
    newest event, what the oldest-first list trimmed at every record read; it never
    holds more than twice the cap."""
    rng = random.Random(11)
    for trial in range(200):
        cap = rng.choice([1, 2, 5, MAX_TRANSFERS])
        pushed: list[Recent] = []
        newest: Payment | None = None
        held, ts, latest = 0, 0.0, float("-inf")
        for i in range(rng.randrange(1, 120)):
            ts += rng.choice([60.0, 60.0, HOUR, 10 * HOUR, 30 * HOUR])
            late = rng.random() < 0.3
            record = Payment(ts - rng.uniform(0, 40 * HOUR) if late else ts, str(i), 1.0, True)
            latest = max(latest, record.ts)
            pushed.append(Payment(*record.astuple()))  # a copy: a record links into one chain
            kept = _list_kept(pushed, cap)
            held = _link(newest, record, held, cap)
            newest = record
            if rng.random() < 0.05:  # the store's sweep
                newest, held = _forget(newest, cap, latest - RECENT_S)
            chain_now = newest_first(newest)
            assert held == len(chain_now) <= 2 * cap, trial
            for start in (latest - RECENT_S, latest - 24 * HOUR - 600.0, latest - HOUR):
                assert _visible(chain_now, cap, start) == _visible(kept[::-1], cap, start), trial


def test_the_newest_record_is_always_kept() -> None:
    victim = VictimState()
    victim.add_transfer(Payment(0.0, "a", 1.0, True))
    victim.add_transfer(Payment(10 * 24 * HOUR, "b", 1.0, True))
    assert [r.payee for r in newest_first(victim.transfers)] == ["b"]


def test_a_restored_chain_keeps_every_record_in_order() -> None:
    records = [Payment(float(t), str(t), 1.0, True) for t in (5, 1, 9)]
    assert newest_first(chain(records)) == records[::-1]
    assert chain([]) is None


def test_deep_size_counts_what_a_record_holds() -> None:
    """The engine's state-bytes gauge sums deep sizes: a record's number, and for an
    interpreted class the slots its bases declare as well as its own."""
    number = "+86138" + "0" * 500
    record = Inbound(1.0, number, 60, True, CALL, False, 3.0)
    assert deep_size(record) >= sys.getsizeof(record) + sys.getsizeof(number)

    class Base:
        __slots__ = ("held",)

        def __init__(self) -> None:
            self.held = "x" * 1000

    class Child(Base):
        __slots__ = ("other",)

        def __init__(self) -> None:
            super().__init__()
            self.other = 1

    child = Child()
    assert deep_size(child) >= sys.getsizeof(child) + 1000
