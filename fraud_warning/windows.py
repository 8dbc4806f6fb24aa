"""Rule-defined windowed features at run time: per-key event windows and their values.

The registry's rules name features in the `features:` language
(:mod:`fraud_warning.windowlang`). Here they are bound to the named lists and laid out:
each trigger kind's rows get one column per distinct feature, after the catalogue's, so a
feature written the same way by a hundred rules is one column computed once.

What is kept per key (subscriber or calling number) is a *source*: the (time, value)
pairs of the events of one type that passed one `where` test, shared by every feature
that reads the same events and field whatever its function or window. A source keeps
what its longest window needs, at most MAX_ENTRIES pairs per key (a number that sent
ten thousand SMS in an hour saturates there), in event-time order.

The join hands an event's fields to :meth:`Windows.record` as a tuple in the order
:data:`~fraud_warning.windowlang.FIELDS` lists them for its side and event, and the
compiled tests read them by position: a dict of named fields per event, and a hashed
lookup per field a test reads, cost more than the tests themselves.
"""

from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from fraud_warning.features import CATALOGUE, NUMBER_KINDS
from fraud_warning.state import intern
from fraud_warning.untrack import untrack
from fraud_warning.windowlang import (
    FIELDS,
    IsTrue,
    Match,
    NumCmp,
    PAnd,
    PNot,
    Pred,
    TextEq,
    WindowError,
    WindowSpec,
)

MAX_ENTRIES: Final = 1024
_UNTRACK: Final = untrack  # in a C static when compiled
Entry = tuple[float, Any]
Fields = tuple[Any, ...]  # an event's fields, in FIELDS order for its side and event
Test = Callable[[Fields], bool]
Held = dict[str, list[Entry]]

#: "side:event" → each field's position in the tuple the join records (FIELDS order).
POSITIONS: Final = {
    f"{side}:{event}": {name: at for at, name in enumerate(fields)}
    for side, events in FIELDS.items()
    for event, fields in events.items()
}

#: The side whose state each trigger kind's windows read.
KIND_SIDE = {kind: "number" if kind in NUMBER_KINDS else "victim" for kind in CATALOGUE}

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}


class HasWindows(Protocol):
    windows: Held | None


@dataclass(frozen=True)
class _Source:
    key: str  # WindowSpec.source
    at: int  # the recorded value's position in the event's fields; -1: count (1.0)
    test: Test | None
    retention_s: float


@dataclass(frozen=True)
class _Column:
    fid: str
    source: str
    func: str
    scale: float
    within_s: float


def compile_test(
    node: Pred, lists: Mapping[str, Sequence[str]], positions: Mapping[str, int]
) -> Test:
    """A closure over an event's field tuple; `positions` maps the event's field names
    (bare: a source reads one event type) to their places in it."""
    if isinstance(node, IsTrue):
        at = _position(node.field, positions)
        return lambda f: bool(f[at])
    if isinstance(node, NumCmp):
        at, op, value = _position(node.field, positions), _CMP[node.op], node.value
        return lambda f: op(f[at], value)
    if isinstance(node, TextEq):
        at, text, equal = _position(node.field, positions), node.value, node.equal
        return lambda f: (f[at] == text) is equal
    if isinstance(node, Match):
        return _match(node, lists, _position(node.field, positions))
    if isinstance(node, PNot):
        if isinstance(node.item, IsTrue):  # `not sms.sender_is_contact`: one read
            negated = _position(node.item.field, positions)
            return lambda f: not f[negated]
        inner = compile_test(node.item, lists, positions)
        return lambda f: not inner(f)
    # cheap tests first (filters are pure, so the order does not change the answer): a
    # keyword scan of the text runs only on what the yes/no and number tests let through
    items = sorted(node.items, key=_cost)
    parts = [compile_test(item, lists, positions) for item in items]
    both = _both if isinstance(node, PAnd) else _either
    test = parts[-1]
    for part in reversed(parts[:-1]):  # a chain of two-way closures: no generator per call
        test = both(part, test)
    return test


def _position(field: str, positions: Mapping[str, int]) -> int:
    """Where `field` ("sms.text": a source reads one event type, so the name after the
    dot) sits in the event's field tuple."""
    return positions[field.split(".", 1)[1]]


def _both(a: Test, b: Test) -> Test:
    return lambda f: a(f) and b(f)


def _either(a: Test, b: Test) -> Test:
    return lambda f: a(f) or b(f)


def _cost(node: Pred) -> int:
    if isinstance(node, IsTrue | NumCmp | TextEq):
        return 0
    if isinstance(node, Match):
        return 2 if node.how == "contains" else 1
    if isinstance(node, PNot):
        return _cost(node.item)
    return max(_cost(item) for item in node.items)


def _match(node: Match, lists: Mapping[str, Sequence[str]], at: int) -> Test:
    if node.list_name is not None:
        if node.list_name not in lists:
            known = ", ".join(f"${n}" for n in sorted(lists)) or "none"
            raise WindowError(f"unknown list '${node.list_name}' (lists: {known})")
        items = tuple(lists[node.list_name])
    else:
        items = node.items
    if node.how == "in":
        members = frozenset(items)
        return lambda f: f[at] in members
    if node.how == "startswith":
        prefixes = tuple(items)
        return lambda f: f[at].startswith(prefixes)
    if not items:
        return lambda f: False
    # escaped literals, longest first: one linear scan of the text for any keyword
    pattern = re.compile("|".join(re.escape(k) for k in sorted(set(items), key=len, reverse=True)))
    return lambda f: pattern.search(f[at]) is not None


def _aggregate(column: _Column, entries: list[Entry], ts: float) -> float:
    start = ts - column.within_s
    func = column.func
    n = 0
    total = 0.0
    best: float | None = None
    latest: float | None = None
    seen: set[Any] = set()
    for t, value in reversed(entries):  # entries are in event-time order
        if t <= start:
            break
        if t > ts:
            continue  # a late-arriving earlier trigger must not see later events
        n += 1
        if func == "distinct":
            seen.add(value)
        elif func == "max":
            best = value if best is None or value > best else best
        elif func == "min":
            best = value if best is None or value < best else best
        elif func == "last":
            latest = value
            break
        elif func != "count":
            total += value
    if func == "count":
        return float(n)
    if func == "distinct":
        return float(len(seen))
    if func == "last":
        return latest * column.scale if latest is not None else 0.0
    if func in ("max", "min"):
        return best * column.scale if best is not None else 0.0
    if func == "avg":
        return total / n * column.scale if n else 0.0
    return total * column.scale


class Windows:
    """A registry's window features, bound to its named lists."""

    def __init__(
        self,
        layout: Mapping[str, Sequence[WindowSpec]] | None = None,
        lists: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """`layout`: trigger kind → its features, in column order. Raises WindowError
        for a list the rules name but the rule set does not have."""
        layout = layout or {}
        lists = lists or {}
        self.layout = {kind: tuple(specs) for kind, specs in layout.items() if specs}
        self._columns = {
            kind: tuple(_Column(s.fid, s.source, s.func, s.scale, s.within_s) for s in specs)
            for kind, specs in self.layout.items()
        }
        retention: dict[str, float] = {}
        first: dict[str, WindowSpec] = {}
        for specs in self.layout.values():
            for spec in specs:
                retention[spec.source] = max(retention.get(spec.source, 0.0), spec.within_s)
                first.setdefault(spec.source, spec)
        # keyed "side:event": a constant string's hash is cached, a tuple's is not
        sources: dict[str, list[_Source]] = {}
        for key, spec in first.items():
            where = f"{spec.side}:{spec.event}"
            positions = POSITIONS[where]
            test = compile_test(spec.where, lists, positions) if spec.where is not None else None
            at = positions[spec.field] if spec.func != "count" and spec.field else -1
            sources.setdefault(where, []).append(_Source(key, at, test, retention[key]))
        self._sources = {where: tuple(found) for where, found in sources.items()}
        # the victim stages get an SMS's text only when a feature reads it
        self.reads_sms_text = any(
            spec.side == "victim"
            and spec.event == "sms"
            and (spec.field == "text" or "sms.text" in str(spec.where))
            for spec in first.values()
        )

    def records(self, where: str) -> bool:
        """Whether any feature reads the events of `where` ("side:event", e.g.
        "victim:sms"; else build no fields for them)."""
        return where in self._sources

    def columns(self, kind: str) -> int:
        return len(self._columns.get(kind, ()))

    def fids(self, kind: str) -> tuple[str, ...]:
        return tuple(c.fid for c in self._columns.get(kind, ()))

    def record(self, state: HasWindows, where: str, ts: float, fields: Fields) -> None:
        """Add an event of `where` ("side:event") to the key's windows it passes the
        test of; `fields` are the event's, in the order FIELDS lists them."""
        for source in self._sources.get(where, ()):
            if source.test is not None and not source.test(fields):
                continue
            value = fields[source.at] if source.at >= 0 else 1.0
            if type(value) is str:
                value = intern(value)  # held for the window: one copy per number or account
            # Any: boxed once, so the tuple held is the one untracked (a fixed-length tuple
            # local is a C struct to mypyc, boxed anew at each use)
            entry: Any = (ts, value)
            _UNTRACK(entry)  # a time and a field's value: no cycle (untrack.py)
            held = state.windows
            if held is None:
                held = state.windows = {}
            entries = held.get(source.key)
            if entries is None:
                held[source.key] = [entry]
                continue
            if ts >= entries[-1][0]:
                entries.append(entry)
            else:  # a late event: keep the order the aggregates rely on
                bisect.insort(entries, entry, key=_time)
            cutoff = ts - source.retention_s
            drop = 0
            while drop < len(entries) and entries[drop][0] <= cutoff:
                drop += 1
            drop = max(drop, len(entries) - MAX_ENTRIES)
            if drop:
                del entries[:drop]

    def values(self, state: HasWindows | None, kind: str, ts: float) -> list[float]:
        """The kind's window feature values at event time `ts`, in column order."""
        columns = self._columns.get(kind)
        if not columns:
            return []
        held = state.windows if state is not None else None
        if not held:
            return [0.0] * len(columns)
        out = []
        for column in columns:
            entries = held.get(column.source)
            out.append(_aggregate(column, entries, ts) if entries else 0.0)
        return out

    def by_id(self, state: HasWindows | None, kind: str, ts: float) -> dict[str, float]:
        """The same values keyed by feature id: what crosses to another stage, whose
        registry may lay its columns out differently for a moment during a reload."""
        return dict(zip(self.fids(kind), self.values(state, kind, ts), strict=True))

    def from_ids(self, values: Mapping[str, float], kind: str) -> list[float]:
        """Values keyed by feature id, in this registry's column order (0 when absent)."""
        return [values.get(fid, 0.0) for fid in self.fids(kind)]


def _time(entry: Entry) -> float:
    return entry[0]


def windows_out(held: Held | None, side: str) -> dict[str, list[Entry]] | None:
    """A key's windows on `side` ("victim" or "number") as plain values (snapshots): a
    subscriber holds both halves' windows in one dict."""
    mine = {k: v for k, v in held.items() if k.startswith(side + ":")} if held else None
    return mine or None


def windows_in(
    data: Mapping[str, Iterable[Sequence[Any]]] | None, into: Held | None = None
) -> Held | None:
    """A key's windows back from plain values, added to those it holds (`into`, the
    other half's)."""
    if not data:
        return into
    held = into if into is not None else {}
    held.update({key: [(float(t), v) for t, v in entries] for key, entries in data.items()})
    return held


EMPTY = Windows()

__all__ = [
    "EMPTY",
    "KIND_SIDE",
    "MAX_ENTRIES",
    "POSITIONS",
    "HasWindows",
    "Windows",
    "compile_test",
    "windows_in",
    "windows_out",
]
