"""Recent-event lists forget by age as well as by count, without changing a feature."""

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
    VictimState,
    deep_size,
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


def test_lists_hold_a_day_at_most_and_read_as_untrimmed_ones() -> None:
    """Untrimmed copies (count cap only, as before) give the same features at every
    event, while the trimmed lists never hold an entry older than RECENT_S."""
    victim, payee = VictimState(), PayeeState()
    plain_inbound: list[Inbound] = []
    plain_transfers: list[Payment] = []
    plain_payee: list[Credit] = []
    rng = random.Random(7)
    for i, ts in enumerate(_events(seed=3, days=40)):
        number = f"+86170{rng.randrange(100):08d}"
        kind = rng.choice([CALL, SMS])
        record = Inbound(ts, number, rng.choice([0, 40, 900]), True, kind, kind == SMS, 3.0)
        victim.add_inbound(record)
        plain_inbound = [*plain_inbound, record][-MAX_INBOUND:]
        transfer = Payment(ts, f"acct{i % 5}", 100.0 + i, i % 3 == 0)
        victim.add_transfer(transfer)
        plain_transfers = [*plain_transfers, transfer][-MAX_TRANSFERS:]
        inbound = Credit(ts, f"payer{i % 7}", 500.0, i % 2 == 0, i % 4 == 0)
        payee.add(inbound)
        plain_payee = [*plain_payee, inbound][-MAX_PAYEE_INBOUND:]

        newest = max(r.ts for r in plain_inbound)
        assert all(r.ts >= newest - RECENT_S for r in victim.inbound)
        reader = VictimState()
        reader.inbound, reader.transfers = list(plain_inbound), list(plain_transfers)
        plain = PayeeState()
        plain.inbound = list(plain_payee)
        for at in (ts, ts - 600.0):  # a trigger now, and one as late as allowed
            assert victim_context(victim, at, {}, False) == victim_context(reader, at, {}, False)
            assert payer_features(victim, "acct1", 50.0, at) == payer_features(
                reader, "acct1", 50.0, at
            )
            assert payee_features(payee, at) == payee_features(plain, at)
    # 40 days of a busy subscriber: the untrimmed lists sit at their caps, these do not
    assert len(plain_payee) == MAX_PAYEE_INBOUND
    assert len(payee.inbound) < MAX_PAYEE_INBOUND


def test_the_newest_record_is_always_kept() -> None:
    victim = VictimState()
    victim.add_transfer(Payment(0.0, "a", 1.0, True))
    victim.add_transfer(Payment(10 * 24 * HOUR, "b", 1.0, True))
    assert [r.payee for r in victim.transfers] == ["b"]


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
