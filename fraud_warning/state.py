"""Per-key state for the three viewpoints, with bounded memory and idle eviction.

- victim side, keyed by subscriber: known contacts and payees, recent contacts from
  strangers, recent transfers;
- number side, keyed by calling number: distinct callees and call shape per hour;
- payee side, keyed by receiving account: recent inbound transfers.

A subscriber's victim and number sides are the two halves of one object under one key
(:class:`Subscriber`), each read through its :class:`Half` of the store.

Every container is capped, and a key idle for longer than the retention is evicted,
so memory follows the active population, not the history.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from mypy_extensions import mypyc_attr

from fraud_warning.untrack import untrack

# held in a C static when compiled: a name imported from sys is looked up in the module's
# dict at every call
intern: Final = sys.intern
#: records cannot be in a cycle: the cyclic GC need not walk them (fraud_warning/untrack.py)
_UNTRACK: Final = untrack

if TYPE_CHECKING:
    # 32-bit native ints: compiled by mypyc, each counter and record field takes 4 bytes
    # instead of 8 (interpreted they are plain ints, so only the type checker needs them)
    from mypy_extensions import i32, u8

HOUR_S: Final = 3600.0
_HOUR_INT: Final = 3600
MAX_CONTACTS: Final = 64  # counterparties a subscriber reached out to; oldest forgotten first
MAX_PAYEES: Final = 32
MAX_INBOUND: Final = 32  # recent contacts from strangers (calls and SMS)
MAX_TRANSFERS: Final = 32
MAX_PAYEE_INBOUND: Final = 64
MAX_FANOUT_SET: Final = 1024  # a number's distinct callees per hour saturate here
# A flag lasts a day (the victim context's longest window), then the number's rules may
# flag it again. Its own lifetime, not the number state's, so a victim-side reader that
# only ever saw the flag (the distributed runner's flag table) reads the same answer.
FLAG_TTL_S: Final = 24 * HOUR_S
# A number's age (NumberState.active_s) is kept in whole hour buckets plus the minute of
# its first event, both small ints (interned by CPython: two 8-byte slots, no objects),
# and reads at most a day; MAX_AGE_H is one bucket past it, so the cap always holds.
ACTIVE_CAP_S: Final = 24 * HOUR_S
MAX_AGE_H: Final = 25

# Recent-event chains keep what the features can still read: their windows reach back a
# day from a trigger, and a trigger may be up to the allowed lateness behind the newest
# event; 26 h (the store's idle retention) covers both. Trimming by age as well as by
# count keeps a busy key's lists at a day's worth instead of filling towards the cap.
RECENT_S: Final = 26 * HOUR_S
#: Share of the retention in which a paced sweep checks every key once (StateStore.sweep).
SWEEP_PASS: Final = 0.25

# A half of a subscriber's state never touched (or forgotten): older than any event.
NEVER: Final = float("-inf")

# Inbound record kinds.
CALL: Final = 0
SMS: Final = 1


# A distinct-key container is the key itself while it holds one, a tuple up to SMALL
# keys, and a dict past it: most keys in a window have few contacts or callees, and a
# bare key costs nothing beyond the (interned, shared) string, a tuple of two 56 bytes,
# a dict 184 (a set 216); a scan of 8 interned strings is as quick as a hashed lookup.
SMALL: Final = 8

Distinct = str | tuple[str, ...] | dict[str, None]


def hour_bucket(ts: float) -> int:
    """`int(ts // HOUR_S)`: the hour an event time falls in. Floored first, then divided
    as integers: compiled, a float floor division is a call to fmod and about 250
    instructions, twice an event on the number side. The same answer for every finite
    float: floor(floor(x) / n) = floor(x / n) for a whole n, and the float division is
    exact below 2**53."""
    return math.floor(ts) // _HOUR_INT


def _add_distinct(keys: Distinct, key: str, cap: int, *, forget: bool) -> Distinct:
    """`keys` with `key` added; returns the container to keep (the same dict once large).
    At `cap` the oldest key is forgotten (`forget`: known contacts) or the new one is not
    added (a saturating count)."""
    if type(keys) is str:
        if keys == key:
            return keys
        # boxed once as what is returned (a fixed-length tuple local is a C struct to
        # mypyc, boxed anew at each use); every cap is well above 2
        pair: Distinct = (keys, intern(key))
        _UNTRACK(pair)  # strings only: no cycle (the GC would untrack it, after a walk)
        return pair
    # each shape through a local of its own type: compiled, a dict's or a tuple's own
    # operations are native where the union's are generic (`next` a builtins lookup)
    known: dict[str, None]
    if type(keys) is tuple:
        small: tuple[str, ...] = keys
        if key in small:
            return keys
        key = intern(key)
        if not small:
            return key
        if len(small) < SMALL:
            grown: Distinct = small + (key,)  # noqa: RUF005 (compiled, unpacking builds a list)
            _UNTRACK(grown)
            return grown
        known = dict.fromkeys(small)
    else:
        known = cast(dict[str, None], keys)  # neither a str nor a tuple
        if key in known:
            return keys
        key = intern(key)
    if len(known) >= cap:
        if not forget:
            return known
        for oldest in known:  # the first key, by a native walk (`next` is a builtins call)
            del known[oldest]
            break
    known[key] = None
    return known


def _has(keys: Distinct, key: str) -> bool:
    # a bare key must not be searched as a string: "in" would match a substring
    return keys == key if type(keys) is str else key in keys


def distinct_count(keys: Distinct) -> int:
    return 1 if type(keys) is str else len(keys)


def distinct_keys(keys: Distinct) -> list[str]:
    """The keys of a distinct-key container, oldest first."""
    return [keys] if type(keys) is str else list(keys)


class Recent:
    """A record of a recent-event chain: each record links to the one recorded before
    it (`prev`), and the state holds the newest, so a chain reads newest first.

    Records are small classes rather than tuples: compiled, their numbers are stored
    unboxed in the record (a contact record is 80 bytes with its link; as a tuple with
    its floats it was about 150). A link costs 8 bytes a record where a list cost 56
    plus its slots: most chains hold one or two records.
    """

    __slots__ = ("prev", "ts")

    # never called (each record sets `ts` and `prev` itself), but it tells mypyc that
    # both are always set: declared only by annotation, they cost a definedness bitmap
    def __init__(self, ts: float) -> None:
        self.ts = ts
        self.prev: Recent | None = None

    def astuple(self) -> tuple[Any, ...]:
        """The record's fields, as a snapshot writes them."""
        raise NotImplementedError


class Inbound(Recent):
    """A call or SMS from a stranger, as the victim side recorded it; `fanout` is the
    caller's distinct callees in the hour before, taken from the number side at the call."""

    __slots__ = ("duration_s", "fanout", "has_url", "kind", "number", "risky")

    def __init__(
        self,
        ts: float,
        number: str,
        duration_s: i32,
        risky: bool,
        kind: u8,
        has_url: bool,
        fanout: float,
    ) -> None:
        self.ts = ts
        self.prev = None
        self.number = intern(number)
        self.fanout = fanout
        self.duration_s = duration_s
        self.kind = kind
        self.risky = risky
        self.has_url = has_url
        _UNTRACK(self)

    def older(self) -> Inbound | None:
        return self.prev  # type: ignore[return-value]  # a chain holds one record type

    def astuple(self) -> tuple[float, str, int, bool, int, bool, float]:
        return (
            self.ts,
            self.number,
            int(self.duration_s),
            self.risky,
            int(self.kind),
            self.has_url,
            self.fanout,
        )


class Payment(Recent):
    """A transfer the subscriber made; `was_new`: its payee had not been paid before."""

    __slots__ = ("amount_cny", "payee", "was_new")

    def __init__(self, ts: float, payee: str, amount_cny: float, was_new: bool) -> None:
        self.ts = ts
        self.prev = None
        self.payee = intern(payee)
        self.amount_cny = amount_cny
        self.was_new = was_new
        _UNTRACK(self)

    def older(self) -> Payment | None:
        return self.prev  # type: ignore[return-value]

    def astuple(self) -> tuple[float, str, float, bool]:
        return (self.ts, self.payee, self.amount_cny, self.was_new)


class Credit(Recent):
    """A transfer into an account, with what its payer's context held at the time."""

    __slots__ = ("amount_cny", "had_link", "had_risk", "payer")

    def __init__(
        self, ts: float, payer: str, amount_cny: float, had_risk: bool, had_link: bool
    ) -> None:
        self.ts = ts
        self.prev = None
        self.payer = intern(payer)
        self.amount_cny = amount_cny
        self.had_risk = had_risk
        self.had_link = had_link
        _UNTRACK(self)

    def older(self) -> Credit | None:
        return self.prev  # type: ignore[return-value]

    def astuple(self) -> tuple[float, str, float, bool, bool]:
        return (self.ts, self.payer, self.amount_cny, self.had_risk, self.had_link)


R = TypeVar("R", bound=Recent)


def _push(newest: R | None, record: R, cap: int) -> R:
    """`record` linked on top of the chain `newest`, which then keeps at most `cap`
    records and forgets, from its oldest end, those older than RECENT_S behind `record`
    (the record itself always stays). Returns the new newest record."""
    record.prev = newest
    cutoff = record.ts - RECENT_S
    # keep down to the deepest record still within RECENT_S (late events can leave an
    # older one above a newer one: only the run at the oldest end goes), at most `cap`
    depth = keep = 0
    node: Recent | None = record
    while node is not None:
        depth += 1
        if node.ts >= cutoff:
            keep = depth
        node = node.prev
    keep = min(cap, max(1, keep))
    if keep < depth:
        last: Recent = record
        for _ in range(keep - 1):
            last = last.prev  # type: ignore[assignment]  # keep < depth: it exists
        last.prev = None
    return record


def _link(newest: R | None, record: R, held: int, cap: int) -> int:
    """Link `record` on top of a payee's chain `newest`, which held `held` records;
    returns how many it holds now. Readers read at most the newest `cap`; the chain is
    cut back to them (and at its first record older than RECENT_S behind `record`) only
    once it holds twice the cap. Cutting one record off at every credit walked the whole
    chain, and a mule's sits at the cap: 41.6 records a credit on the 100,000-subscriber
    day. A victim's chains are short (4.5 records a push) and trimmed exactly (_push):
    cut this way, the sweep's trimming by age cost about what it saved."""
    record.prev = newest
    held += 1
    if held > 2 * cap:
        held = _cut(record, cap, record.ts - RECENT_S)
    return held


def _cut(newest: Recent, cap: int, cutoff: float) -> int:
    """Cut the chain below its newest `cap` records and at its first record older than
    `cutoff` (the newest stays); returns the records kept.

    No feature changes: a reader's trigger is at most the allowed lateness behind the
    watermark, so its day starts after `cutoff` (at most the watermark less RECENT_S)
    and it stops at the first older record, and it reads at most `cap` records."""
    node = newest
    held = 1
    older = node.prev
    while older is not None and held < cap and older.ts >= cutoff:
        node = older
        older = node.prev
        held += 1
    node.prev = None
    return held


def _forget(newest: R | None, cap: int, cutoff: float) -> tuple[R | None, int]:
    """The chain `newest` without its records older than `cutoff` nor past the cap (the
    store's paced sweep), and how many it holds."""
    if newest is None or newest.ts < cutoff:
        return None, 0
    return newest, _cut(newest, cap, cutoff)


def newest_first(newest: R | None) -> list[R]:
    """The records of a chain, newest first."""
    out: list[R] = []
    node: Recent | None = newest
    while node is not None:
        out.append(node)  # type: ignore[arg-type]  # a chain holds one record type
        node = node.prev
    return out


def chain(records: list[R]) -> R | None:
    """A chain of `records` (oldest first) as they are, for a snapshot being restored:
    they were trimmed when recorded, and trimming again could drop a late one."""
    newest: R | None = None
    for record in records:
        record.prev = newest
        newest = record
    return newest


def flag_live(flagged_at: float | None, ts: float) -> bool:
    """Whether a flag set at `flagged_at` holds at event time `ts`."""
    return flagged_at is not None and flagged_at <= ts < flagged_at + FLAG_TTL_S


# acyclic (compiled): a subscriber or a payee holds strings, numbers, records and containers
# of those, never anything that leads back to it, so neither can be in a reference cycle.
# They skip the cyclic GC: no 16-byte header (a subscriber is 144 bytes, not 160; a payee
# 40, not 56) and no tracking as each is made and freed. The records keep the header:
# mypyc's acyclic dealloc still uses CPython's trashcan, which keeps a deferred object in
# the GC header, and freeing a chain of 64 records nests deep enough to defer one (a
# crash). Each record is untracked as it is made instead (untrack.py).
@mypyc_attr(acyclic=True)
class Subscriber:
    """What the engine remembers about one subscriber, from both viewpoints, in one
    object under one key: as a possible victim (the victim half) and as a calling number
    (the number half). One object instead of two saves an object header and a dict entry
    per subscriber, about 90 bytes of the 500 the memory target allows.

    Each half has its own last-touched time (`victim_ts`, `number_ts`; NEVER until first
    touched) and expires on its own: see :class:`Half`. `VictimState` and `NumberState`
    name the halves in annotations: code reads only the half its name says.

    Victim half: known counterparties are tuples while few, then insertion-ordered dicts
    (a hashed lookup per event: arrays of 8-byte keys were compact but their linear,
    boxing scans cost more than the rest of a call's join); the recent-event chains exist
    only once something was recorded.

    Number half: call shape in hour buckets (current and previous), and how long ago the
    number first called or texted (in retained state). Sliding-hour figures weight the
    previous bucket by how much of it still lies in the last hour: exact enough for
    fan-out thresholds, O(1) in time and memory.
    """

    __slots__ = (
        "_contacts",
        "_payees",
        "age_h",
        "born_m",
        "bucket",
        "callees",
        "calls",
        "flagged_at",
        "inbound",
        "key",
        "last_cell",
        "long_calls",
        "number_ts",
        "prev_calls",
        "prev_distinct",
        "prev_long",
        "prev_short",
        "risky_origin",
        "short_calls",
        "transfers",
        "victim_ts",
        "windows",
    )

    # Every field is assigned here, not in clear_victim / clear_number: compiled, only a
    # field set in __init__ itself is known to be always set (else a definedness bitmap
    # and a check per read). tests/test_state_halves.py holds the two in step.
    def __init__(self, key: str = "") -> None:
        # the store's own (interned) key for the subscriber: see Half.canonical
        self.key = key
        # number half, the counters first and together: compiled, 4-byte fields pack
        # without padding
        self.bucket: i32 = -1
        self.calls: i32 = 0
        self.short_calls: i32 = 0
        self.long_calls: i32 = 0
        self.prev_distinct: i32 = 0
        self.prev_calls: i32 = 0
        self.prev_short: i32 = 0
        self.prev_long: i32 = 0
        # hour buckets from the first event's to `bucket` (capped at MAX_AGE_H), and the
        # minute of the hour of the first event: see active_s
        self.age_h: u8 = 0
        self.born_m: u8 = 0
        self.risky_origin = False
        # distinct callees in the current hour (see SMALL)
        self.callees: Distinct = ()
        self.flagged_at: float | None = None
        self.number_ts = NEVER
        # victim half
        self._contacts: Distinct = ()
        self._payees: Distinct = ()
        # contacts from strangers and transfers made: the newest of each chain
        self.inbound: Inbound | None = None
        self.transfers: Payment | None = None
        self.last_cell: str | None = None
        self.victim_ts = NEVER
        # rule-defined windows of both halves (fraud_warning.windows): source → [(ts,
        # value)], when any; a source names its side ("victim:…", "number:…")
        self.windows: dict[str, list[tuple[float, Any]]] | None = None

    def clear_victim(self) -> None:
        """Forget the victim half (it expired), as a new subscriber has it."""
        self._contacts = self._payees = ()
        self.inbound = None
        self.transfers = None
        self.last_cell = None
        self.victim_ts = NEVER
        self._drop_windows("victim:")

    def clear_number(self) -> None:
        """Forget the number half (it expired), as a new subscriber has it."""
        self.bucket = -1
        self.calls = self.short_calls = self.long_calls = 0
        self.prev_distinct = self.prev_calls = self.prev_short = self.prev_long = 0
        self.age_h = self.born_m = 0
        self.risky_origin = False
        self.callees = ()
        self.flagged_at = None
        self.number_ts = NEVER
        self._drop_windows("number:")

    def _drop_windows(self, side: str) -> None:
        held = self.windows
        if held:
            for source in [s for s in held if s.startswith(side)]:
                del held[source]
            if not held:
                self.windows = None

    # -- victim half ---------------------------------------------------------------------

    def set_cell(self, cell: str) -> None:
        """The cell the subscriber was last seen in (held interned: a city has few)."""
        if cell != self.last_cell:
            self.last_cell = intern(cell)

    def knows(self, number: str) -> bool:
        """Whether the subscriber reached out to `number` before (a contact)."""
        return _has(self._contacts, number)

    def add_contact(self, number: str) -> None:
        self._contacts = _add_distinct(self._contacts, number, MAX_CONTACTS, forget=True)

    def has_paid(self, account: str) -> bool:
        return _has(self._payees, account)

    def add_payee(self, account: str) -> None:
        self._payees = _add_distinct(self._payees, account, MAX_PAYEES, forget=True)

    def add_inbound(self, record: Inbound) -> None:
        self.inbound = _push(self.inbound, record, MAX_INBOUND)

    def add_transfer(self, record: Payment) -> None:
        self.transfers = _push(self.transfers, record, MAX_TRANSFERS)

    # -- number half ---------------------------------------------------------------------

    def roll(self, ts: float) -> None:
        """Move to the hour bucket of event time `ts` (the first event starts the age)."""
        bucket = hour_bucket(ts)
        if bucket == self.bucket:
            return
        if self.bucket < 0:
            self.born_m = int((ts - bucket * HOUR_S) // 60)
        else:
            # a late event (earlier bucket) steps back; never before the first bucket
            self.age_h = min(MAX_AGE_H, max(0, int(self.age_h) + bucket - int(self.bucket)))
        if bucket == self.bucket + 1:
            self.prev_distinct, self.prev_calls = distinct_count(self.callees), self.calls
            self.prev_short, self.prev_long = self.short_calls, self.long_calls
        else:
            self.prev_distinct = self.prev_calls = self.prev_short = self.prev_long = 0
        self.bucket = bucket
        self.callees = ()
        self.calls = self.short_calls = self.long_calls = 0

    def add_callee(self, number: str) -> None:
        """Count `number` among this hour's distinct callees (saturating at the cap)."""
        self.callees = _add_distinct(self.callees, number, MAX_FANOUT_SET, forget=False)

    def _weights(self, ts: float) -> tuple[float, float]:
        """Weights of the current and previous hour buckets in the hour before `ts`: the
        previous bucket counts by how much of it still lies in that hour."""
        bucket = hour_bucket(ts)
        if bucket == self.bucket:
            return 1.0, 1.0 - (ts - bucket * HOUR_S) / HOUR_S
        if bucket == self.bucket + 1:
            return 1.0 - (ts - bucket * HOUR_S) / HOUR_S, 0.0
        return 0.0, 0.0

    def hourly(self, ts: float) -> tuple[float, float, float, float]:
        """(distinct callees, calls, short calls, long calls) over the hour before `ts`."""
        now, prev = self._weights(ts)
        return (
            distinct_count(self.callees) * now + float(self.prev_distinct) * prev,
            float(self.calls) * now + float(self.prev_calls) * prev,
            float(self.short_calls) * now + float(self.prev_short) * prev,
            float(self.long_calls) * now + float(self.prev_long) * prev,
        )

    def fanout(self, ts: float) -> float:
        """Distinct callees over the hour before `ts` (hourly()[0], on every call and SMS)."""
        now, prev = self._weights(ts)
        return distinct_count(self.callees) * now + float(self.prev_distinct) * prev

    def active_s(self, ts: float) -> float:
        """Seconds since the number's first call or SMS in retained state, to the minute
        (the first event's seconds are dropped), capped at ACTIVE_CAP_S; `ts` lies in the
        current bucket (the number was rolled to it)."""
        since = (
            float(self.age_h) * HOUR_S
            + (ts - float(self.bucket) * HOUR_S)
            - float(self.born_m) * 60.0
        )
        return min(ACTIVE_CAP_S, max(0.0, since))

    def flagged(self, ts: float) -> bool:
        return flag_live(self.flagged_at, ts)


# the halves of a Subscriber, as annotations name them (see Subscriber)
VictimState = Subscriber
NumberState = Subscriber


@mypyc_attr(acyclic=True)  # see Subscriber
class PayeeState:
    """Recent inbound transfers to one account: the newest of their chain, and how many
    records it holds (see _link; a mule account sits at the cap)."""

    __slots__ = ("held", "inbound", "last_ts")

    def __init__(self) -> None:
        self.inbound: Credit | None = None
        self.last_ts = 0.0
        self.held: i32 = 0

    def add(self, record: Credit) -> None:
        self.held = _link(self.inbound, record, int(self.held), MAX_PAYEE_INBOUND)
        self.inbound = record

    def forget_before(self, cutoff: float) -> None:
        """Forget the records older than `cutoff` (at most the watermark less RECENT_S)
        or past the cap: the store's paced sweep."""
        self.inbound, self.held = _forget(self.inbound, MAX_PAYEE_INBOUND, cutoff)

    def restore(self, records: list[Credit]) -> None:
        """Hold `records` (oldest first) as they are: a snapshot being restored."""
        self.inbound = chain(records)
        self.held = len(records)


def deep_size(obj: object, seen: set[int] | None = None) -> int:
    """sys.getsizeof of an object and everything it holds (slots, containers), once each."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(item, seen) for item in obj)
    else:
        # a class compiled by mypyc lists all its attributes in __mypyc_attrs__; an
        # interpreted one its own in __slots__, and its bases theirs
        names: tuple[str, ...] = getattr(type(obj), "__mypyc_attrs__", None) or tuple(
            name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())
        )
        size += sum(deep_size(getattr(obj, name), seen) for name in names if hasattr(obj, name))
    return size


class Keyed:
    """The payee side's per-key state, swept for idle keys a slice at a time.

    A touch is one dict lookup (no reordering); eviction walks a snapshot of the keys in
    slices, so its cost is spread over the events that created them and no batch stalls
    on a sweep of a million keys. State idle for longer than the retention reads as absent
    whether or not a sweep has reached it yet, so eviction timing never changes a result.
    """

    def __init__(self, retention_s: float) -> None:
        self.retention_s = retention_s
        self._items: dict[str, PayeeState] = {}
        self._sweep = Sweep()

    def touch(self, key: str, ts: float) -> PayeeState:
        """The state for `key`, created if new, marked as touched at `ts`."""
        state = self._items.get(key)
        if state is None or state.last_ts < ts - self.retention_s:
            self._items[intern(key)] = state = PayeeState()
        if ts > state.last_ts:
            state.last_ts = ts
        return state

    def get(self, key: str, ts: float) -> PayeeState | None:
        """The state for `key` as of event time `ts`, or None if absent or expired."""
        state = self._items.get(key)
        if state is None or state.last_ts < ts - self.retention_s:
            return None
        return state

    def items(self) -> Iterator[tuple[str, PayeeState]]:
        """Every held key and its state (expired ones included: they read as absent)."""
        return iter(self._items.items())

    def put(self, key: str, state: PayeeState) -> None:
        """Hold `state` for `key` as it is (a snapshot being restored)."""
        self._items[intern(key)] = state

    def estimate_bytes(self, sample: int = 64) -> int:
        """Bytes held: the mean deep size of up to `sample` keys' state times the key count."""
        sizes = [sys.getsizeof(k) + deep_size(s) for k, s in _spread(self._items, sample)]
        return int(sum(sizes) / len(sizes) * len(self._items)) if sizes else 0

    def evict_idle(
        self, before: float, budget: int | None = None, records_before: float = NEVER
    ) -> int:
        """Check up to `budget` keys (all when None) and drop those last touched before
        `before`, and the records before `records_before` of those kept; a sweep resumes
        where the previous call stopped. Returns how many keys went."""
        items = self._items
        gone = 0
        for key in self._sweep.next(items, budget):
            state = items.get(key)
            if state is None:
                continue
            if state.last_ts < before:
                del items[key]
                gone += 1
            elif state.held > 1:  # a lone record is the key's last touch: not old
                state.forget_before(records_before)
        return gone

    def sweep_size(self) -> int:
        """The keys the current idle-key sweep checks in all (see Sweep.size)."""
        return self._sweep.size(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Sweep:
    """The keys still to check in an idle-key sweep: a snapshot of a dict's keys, handed
    out in slices, so one sweep's cost is spread over many batches."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._size = 0  # keys in the current sweep's snapshot

    def size(self, items: dict[str, Any]) -> int:
        """The keys the current sweep checks in all (the next one's, between sweeps)."""
        return self._size if self._keys else len(items)

    def next(self, items: dict[str, Any], budget: int | None) -> list[str]:
        """Up to `budget` keys (all that are left when None); a new sweep starts when the
        last one is done."""
        keys = self._keys
        if not keys:
            keys = self._keys = list(items)
            self._size = len(keys)
        take = len(keys) if budget is None else min(budget, len(keys))
        chunk = keys[len(keys) - take :]
        del keys[len(keys) - take :]
        return chunk


def _spread(items: dict[str, Any], sample: int) -> list[tuple[str, Any]]:
    """Up to about `sample` entries spread over insertion order: the first keys alone
    (the oldest, often busiest) biased size estimates."""
    step = max(1, len(items) // sample)
    return list(itertools.islice(items.items(), 0, None, step))


class Half:
    """One viewpoint's view (victim or number) of the store's subscribers.

    A touch is one dict lookup. A half idle for longer than the retention reads as
    absent and, touched again, starts afresh (its fields cleared), whatever the other half
    does; the store's sweep clears idle halves and drops a subscriber once both are. So,
    as with separate dicts, eviction timing never changes a result.
    """

    def __init__(self, items: dict[str, Subscriber], retention_s: float) -> None:
        self._items = items
        self.retention_s = retention_s
        self.count = 0  # subscribers whose half is held (expired or not)

    def seen(self, state: Subscriber) -> float:
        """When the half was last touched (NEVER: not held)."""
        raise NotImplementedError

    def mark(self, state: Subscriber, ts: float) -> None:
        raise NotImplementedError

    def clear(self, state: Subscriber) -> None:
        """Forget the half, as a new subscriber has it (and NEVER touched)."""
        raise NotImplementedError

    def touch(self, key: str, ts: float) -> Subscriber:
        """The subscriber `key`, created if new, its half marked as touched at `ts`
        (cleared first if it had expired)."""
        state = self._subscriber(key)
        seen = self.seen(state)
        if seen < ts - self.retention_s:
            if seen == NEVER:
                self.count += 1
            else:
                self.clear(state)
            self.mark(state, ts)
        elif ts > seen:
            self.mark(state, ts)
        return state

    def get(self, key: str, ts: float) -> Subscriber | None:
        """The subscriber `key` as of event time `ts`, or None if its half is absent or
        expired."""
        state = self._items.get(key)
        if state is None or self.seen(state) < ts - self.retention_s:
            return None
        return state

    def items(self) -> Iterator[tuple[str, Subscriber]]:
        """Every subscriber whose half is held (expired ones included: they read as
        absent)."""
        return iter([(k, s) for k, s in self._items.items() if self.seen(s) != NEVER])

    def restore(self, key: str, last_ts: float) -> Subscriber:
        """The subscriber `key` with its half held as last touched at `last_ts`, for a
        snapshot being restored to fill in."""
        state = self._subscriber(key)
        if self.seen(state) == NEVER:
            self.count += 1
        self.mark(state, last_ts)
        return state

    def _subscriber(self, key: str) -> Subscriber:
        """The subscriber `key`, created (both halves NEVER touched) if not held."""
        state = self._items.get(key)
        if state is None:
            key = intern(key)
            self._items[key] = state = Subscriber(key)
        return state

    def canonical(self, key: str) -> str:
        """`key` as the store holds it (interned), the subscriber created if new (both
        halves NEVER touched: the event's sides touch it next). An event's numbers are
        looked up here once; what its sides then record under them (a contact, a callee,
        a stranger's record) is already interned, where each `sys.intern` of a fresh
        string was a lookup in the interpreter's table of every number held, missing the
        cache twice (7 % of the engine's cycles on the 100,000-subscriber day)."""
        return self._subscriber(key).key

    def forget_idle(self, state: Subscriber, before: float) -> None:
        """Clear the half if it was last touched before `before` (the store's sweep)."""
        seen = self.seen(state)
        if seen < before and seen != NEVER:
            self.clear(state)
            self.count -= 1

    def held(self, key: str) -> bool:
        """Whether the half of `key` still occupies memory (expired or not)."""
        state = self._items.get(key)
        return state is not None and self.seen(state) != NEVER

    def __len__(self) -> int:
        return self.count


class VictimHalf(Half):
    def seen(self, state: Subscriber) -> float:
        return state.victim_ts

    def mark(self, state: Subscriber, ts: float) -> None:
        state.victim_ts = ts

    def clear(self, state: Subscriber) -> None:
        state.clear_victim()


class NumberHalf(Half):
    def seen(self, state: Subscriber) -> float:
        return state.number_ts

    def mark(self, state: Subscriber, ts: float) -> None:
        state.number_ts = ts

    def clear(self, state: Subscriber) -> None:
        state.clear_number()


class StateStore:
    """All three viewpoints' state, with one retention for idle keys: subscribers (their
    victim and number halves, one object each) and payee accounts."""

    def __init__(self, retention_s: float = 26 * HOUR_S) -> None:
        self.retention_s = retention_s
        self._subscribers: dict[str, Subscriber] = {}
        self._sweep = Sweep()
        self.victims = VictimHalf(self._subscribers, retention_s)
        self.numbers = NumberHalf(self._subscribers, retention_s)
        self.payees = Keyed(retention_s)
        # number → when it was flagged: what the victim side reads of the number side
        self.flags: dict[str, float] = {}
        self._swept_to = NEVER  # the watermark of the last paced sweep

    def sweep(self, watermark: float, events: int) -> int:
        """Evict idle state after a batch of `events`, a slice at a time, paced by event
        time: each side's keys are all checked once per quarter of the retention
        (SWEEP_PASS), so state idle past the retention is gone within about 1.5
        retentions of its last touch, whether a day holds a thousand events or a
        billion. A slice checks at least 16 keys a side and at most half a key an event
        (plus 16), so a jump in event time spreads its sweep over the batches after it.
        Returns how many keys went."""
        span = watermark - self._swept_to
        self._swept_to = watermark
        # the share of each side's sweep to check now (of the keys it started with: as
        # keys go, a share of those left would slow it down); the whole sweep once a
        # pass's time has gone by, or at the first (an infinite or undefined span)
        pass_s = self.retention_s * SWEEP_PASS
        share = span / pass_s if span < pass_s else 1.0
        most = events // 2 + 16
        return self._evict(
            watermark,
            min(most, max(16, math.ceil(self._sweep.size(self._subscribers) * share))),
            min(most, max(16, math.ceil(self.payees.sweep_size() * share))),
        )

    def evict_idle(self, watermark: float, budget: int | None = None) -> int:
        """Evict state idle for longer than the retention, checking up to `budget`
        subscribers and `budget` payees (all of them when None). Returns how many keys
        went."""
        return self._evict(watermark, budget, budget)

    def _evict(self, watermark: float, budget: int | None, payee_budget: int | None) -> int:
        before = watermark - self.retention_s
        records_before = watermark - RECENT_S  # chains' records no reader reads (_cut)
        items, victims, numbers = self._subscribers, self.victims, self.numbers
        gone = 0
        for key in self._sweep.next(items, budget):
            state = items.get(key)
            if state is None:
                continue
            victims.forget_idle(state, before)
            numbers.forget_idle(state, before)
            if state.victim_ts == NEVER and state.number_ts == NEVER:
                del items[key]
                gone += 1
        return gone + self.payees.evict_idle(before, payee_budget, records_before)

    def expire_flags(self, watermark: float) -> None:
        """Forget flags past their lifetime (reads check it: this only bounds memory)."""
        for number in [n for n, at in self.flags.items() if at + FLAG_TTL_S <= watermark]:
            del self.flags[number]

    def estimate_bytes(self, sample: int = 64) -> dict[str, int]:
        """Bytes held per viewpoint, from a sample of keys. A subscriber's key and object
        count on its victim side when that half is held (else on its number side); each
        half's containers and records on its own side."""
        sides = {"victims": 0.0, "numbers": 0.0}
        entries = _spread(self._subscribers, sample)
        for key, state in entries:
            seen: set[int] = set()
            shared = sys.getsizeof(key) + sys.getsizeof(state)
            victim = sum(deep_size(getattr(state, n), seen) for n in _VICTIM_HELD)
            number = sum(deep_size(getattr(state, n), seen) for n in _NUMBER_HELD)
            number += _windows_size(state.windows, "number:", seen)
            victim += _windows_size(state.windows, "victim:", seen)
            sides["victims" if state.victim_ts != NEVER else "numbers"] += shared
            sides["victims"] += victim
            sides["numbers"] += number
        scale = len(self._subscribers) / len(entries) if entries else 0.0
        return {
            "victims": int(sides["victims"] * scale),
            "numbers": int(sides["numbers"] * scale),
            "payees": self.payees.estimate_bytes(sample),
        }

    def sizes(self) -> dict[str, int]:
        return {
            "victims": len(self.victims),
            "numbers": len(self.numbers),
            "payees": len(self.payees),
        }


# what each half holds beyond the subscriber object's own fields
_VICTIM_HELD: Final = ("_contacts", "_payees", "inbound", "transfers")
_NUMBER_HELD: Final = ("callees", "flagged_at")


def _windows_size(held: dict[str, Any] | None, side: str, seen: set[int]) -> int:
    """Deep size of one side's windows, with its share of the dict holding them."""
    if not held:
        return 0
    mine = [k for k in held if k.startswith(side)]
    share = sys.getsizeof(held) * len(mine) // len(held)
    return share + sum(deep_size(k, seen) + deep_size(held[k], seen) for k in mine)


__all__ = [
    "ACTIVE_CAP_S",
    "CALL",
    "FLAG_TTL_S",
    "HOUR_S",
    "MAX_AGE_H",
    "NEVER",
    "RECENT_S",
    "SMS",
    "Credit",
    "Distinct",
    "Half",
    "Inbound",
    "Keyed",
    "NumberState",
    "PayeeState",
    "Payment",
    "Recent",
    "StateStore",
    "Subscriber",
    "VictimState",
    "chain",
    "deep_size",
    "distinct_count",
    "distinct_keys",
    "flag_live",
    "hour_bucket",
    "newest_first",
]
