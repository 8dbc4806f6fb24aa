"""Per-key state for the three viewpoints, with bounded memory and idle eviction.

- victim side, keyed by subscriber: known contacts and payees, recent contacts from
  strangers, recent transfers;
- number side, keyed by calling number: distinct callees and call shape per hour;
- payee side, keyed by receiving account: recent inbound transfers.

Every container is capped, and a key idle for longer than the retention is evicted,
so memory follows the active population, not the history.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

HOUR_S = 3600.0
MAX_CONTACTS = 64  # counterparties a subscriber reached out to; oldest forgotten first
MAX_PAYEES = 32
MAX_INBOUND = 32  # recent contacts from strangers (calls and SMS)
MAX_TRANSFERS = 32
MAX_PAYEE_INBOUND = 64
MAX_FANOUT_SET = 1024  # a number's distinct callees per hour saturate here

# Inbound record kinds.
CALL = 0
SMS = 1


class VictimState:
    """What the engine remembers about one subscriber."""

    __slots__ = ("contacts", "inbound", "last_cell", "last_ts", "payees", "transfers")

    def __init__(self) -> None:
        self.contacts: dict[str, None] = {}
        self.payees: dict[str, None] = {}
        # (start_ts, number, duration_s, risky_origin, kind, has_url)
        self.inbound: deque[tuple[float, str, int, bool, int, bool]] = deque(maxlen=MAX_INBOUND)
        # (ts, payee_account, amount_cny, payee_was_new)
        self.transfers: deque[tuple[float, str, float, bool]] = deque(maxlen=MAX_TRANSFERS)
        self.last_cell: str | None = None
        self.last_ts = 0.0

    def add_contact(self, number: str) -> None:
        contacts = self.contacts
        if number in contacts:
            return
        if len(contacts) >= MAX_CONTACTS:
            del contacts[next(iter(contacts))]
        contacts[number] = None

    def add_payee(self, account: str) -> None:
        payees = self.payees
        if account in payees:
            return
        if len(payees) >= MAX_PAYEES:
            del payees[next(iter(payees))]
        payees[account] = None


class NumberState:
    """Call shape of one calling number in hour buckets (current and previous).

    Sliding-hour figures weight the previous bucket by how much of it still lies in the
    last hour: exact enough for fan-out thresholds, O(1) in time and memory.
    """

    __slots__ = (
        "bucket",
        "callees",
        "calls",
        "flagged_at",
        "last_ts",
        "long_calls",
        "prev_calls",
        "prev_distinct",
        "prev_long",
        "prev_short",
        "risky_origin",
        "short_calls",
    )

    def __init__(self) -> None:
        self.bucket = -1
        self.callees: set[str] = set()
        self.calls = self.short_calls = self.long_calls = 0
        self.prev_distinct = self.prev_calls = self.prev_short = self.prev_long = 0
        self.flagged_at: float | None = None
        self.risky_origin = False
        self.last_ts = 0.0

    def roll(self, bucket: int) -> None:
        if bucket == self.bucket:
            return
        if bucket == self.bucket + 1:
            self.prev_distinct, self.prev_calls = len(self.callees), self.calls
            self.prev_short, self.prev_long = self.short_calls, self.long_calls
        else:
            self.prev_distinct = self.prev_calls = self.prev_short = self.prev_long = 0
        self.bucket = bucket
        self.callees = set()
        self.calls = self.short_calls = self.long_calls = 0

    def hourly(self, ts: float) -> tuple[float, float, float, float]:
        """(distinct callees, calls, short calls, long calls) over the hour before `ts`."""
        bucket = int(ts // HOUR_S)
        weight = 1.0 - (ts - bucket * HOUR_S) / HOUR_S
        if bucket == self.bucket:
            return (
                len(self.callees) + self.prev_distinct * weight,
                self.calls + self.prev_calls * weight,
                self.short_calls + self.prev_short * weight,
                self.long_calls + self.prev_long * weight,
            )
        if bucket == self.bucket + 1:
            return (
                len(self.callees) * weight,
                self.calls * weight,
                self.short_calls * weight,
                self.long_calls * weight,
            )
        return (0.0, 0.0, 0.0, 0.0)

    def flagged(self, ts: float) -> bool:
        return self.flagged_at is not None and self.flagged_at <= ts


class PayeeState:
    """Recent inbound transfers to one account."""

    __slots__ = ("inbound", "last_ts")

    def __init__(self) -> None:
        # (ts, payer, amount_cny, payer_had_risk_context, payer_had_stranger_link_sms)
        self.inbound: deque[tuple[float, str, float, bool, bool]] = deque(maxlen=MAX_PAYEE_INBOUND)
        self.last_ts = 0.0


S = TypeVar("S", VictimState, NumberState, PayeeState)


class Keyed(Generic[S]):
    """A dict of per-key state, swept for idle keys a slice at a time.

    A touch is one dict lookup (no reordering); eviction walks a snapshot of the keys in
    slices, so its cost is spread over the events that created them and no batch stalls
    on a sweep of a million keys. State idle for longer than the retention reads as absent
    whether or not a sweep has reached it yet, so eviction timing never changes a result.
    """

    def __init__(self, factory: type[S], retention_s: float) -> None:
        self._factory: type[S] = factory
        self.retention_s = retention_s
        self._items: dict[str, S] = {}
        self._sweep: list[str] = []  # keys still to check in the current sweep

    def touch(self, key: str, ts: float) -> S:
        """The state for `key`, created if new, marked as touched at `ts`."""
        state = self._items.get(key)
        if state is None or state.last_ts < ts - self.retention_s:
            state = self._items[key] = self._factory()
        if ts > state.last_ts:
            state.last_ts = ts
        return state

    def get(self, key: str, ts: float) -> S | None:
        """The state for `key` as of event time `ts`, or None if absent or expired."""
        state = self._items.get(key)
        if state is None or state.last_ts < ts - self.retention_s:
            return None
        return state

    def held(self, key: str) -> bool:
        """Whether `key` still occupies memory (expired or not)."""
        return key in self._items

    def evict_idle(self, before: float, budget: int | None = None) -> int:
        """Check up to `budget` keys (all when None) and drop those last touched before
        `before`; a sweep resumes where the previous call stopped. Returns how many went."""
        items = self._items
        if not self._sweep:
            self._sweep = list(items)
        take = len(self._sweep) if budget is None else min(budget, len(self._sweep))
        chunk = self._sweep[len(self._sweep) - take :]
        del self._sweep[len(self._sweep) - take :]
        gone = 0
        for key in chunk:
            state = items.get(key)
            if state is not None and state.last_ts < before:
                del items[key]
                gone += 1
        return gone

    def __len__(self) -> int:
        return len(self._items)


class StateStore:
    """All three viewpoints' state, with one retention for idle keys."""

    def __init__(self, retention_s: float = 26 * HOUR_S) -> None:
        self.retention_s = retention_s
        self.victims: Keyed[VictimState] = Keyed(VictimState, retention_s)
        self.numbers: Keyed[NumberState] = Keyed(NumberState, retention_s)
        self.payees: Keyed[PayeeState] = Keyed(PayeeState, retention_s)

    def evict_idle(self, watermark: float, budget: int | None = None) -> int:
        """Evict keys idle for longer than the retention, checking up to `budget` keys
        per viewpoint (all of them when None)."""
        before = watermark - self.retention_s
        return (
            self.victims.evict_idle(before, budget)
            + self.numbers.evict_idle(before, budget)
            + self.payees.evict_idle(before, budget)
        )

    def sizes(self) -> dict[str, int]:
        return {
            "victims": len(self.victims),
            "numbers": len(self.numbers),
            "payees": len(self.payees),
        }


__all__ = [
    "CALL",
    "HOUR_S",
    "SMS",
    "Keyed",
    "NumberState",
    "PayeeState",
    "StateStore",
    "VictimState",
]
