"""Rule-defined windowed features: the `features:` language, parsed here, never evaluated.

A rule may name features of its own, each an aggregate over one event type in a window
that looks back from the trigger::

    features:
      risky_call_min_30m: sum(call.duration_s / 60, within=30m, where=call.origin in $risky-origins)
      lure_sms_24h: count(sms, within=24h, where=sms.text contains $impersonation-keywords)
      new_payees_2h: distinct(transfer.payee_account, within=2h, where=transfer.payee_is_new)

Grammar (keywords lower case; `not` binds tighter than `and`, `and` than `or`)::

    feature  := FUNC "(" (EVENT | value) ("," NAME "=" arg)* ")"
    FUNC     := count | sum | distinct | max | min | avg | last
    value    := FIELD [("/" | "*") NUMBER]         (distinct and last: FIELD alone)
    arg      := DURATION                            within=  1s .. 24h (required)
              | predicate                           where=   (optional)
              | victim | number                     side=    (optional, see below)
    predicate:= or;  or := and ("or" and)*;  and := not ("and" not)*
    not      := "not" not | "(" or ")" | test
    test     := FIELD                               a yes/no field
              | FIELD OP NUMBER                     a numeric field; OP: < <= > >= == !=
              | FIELD ("==" | "!=") STRING          a text field
              | FIELD ["not"] in (LIST | "[" STRING ("," STRING)* "]")   exact match
              | FIELD ["not"] startswith (LIST | STRING)                 a prefix (numbers)
              | FIELD ["not"] contains (LIST | STRING)                   a substring (texts)
    FIELD    := EVENT "." NAME;  LIST := "$" list-name;  STRING := '...' | "..."

The side is the rule's: `on: number` rules read the calling number's own events (the
calls it made, the SMS it sent); the others read the subscriber's (calls and SMS it
received, transfers it made). The window holds events in (trigger − within, trigger],
the triggering event included. Named lists (`$name`) are resolved against the rule set's
lists when the registry is built, so a site overrides them without editing rules.

There is no attribute access beyond `EVENT.FIELD` from a closed table, no calls other
than the aggregate itself, no arithmetic but scaling by a constant. Cost is bounded:
MAX_LENGTH characters, MAX_DEPTH levels, MAX_NODES terms.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Literal

MAX_LENGTH = 1_000
MAX_DEPTH = 16
MAX_NODES = 50  # tests and and/or/not nodes: far more than a readable filter needs
MAX_STRING = 200
MAX_WITHIN_S = 24 * 3600.0  # an idle subscriber's state goes after 26 h
FUNCS = ("count", "sum", "distinct", "max", "min", "avg", "last")
NUMERIC_FUNCS = frozenset({"sum", "max", "min", "avg", "last"})
SIDES = ("victim", "number")

FieldType = Literal["num", "bool", "str"]

#: side → event → field → type: what a window can read of each event.
FIELDS: dict[str, dict[str, dict[str, FieldType]]] = {
    "victim": {
        "call": {  # a call the subscriber received
            "caller": "str",
            "duration_s": "num",
            "origin": "str",  # as sent, or derived from the number (the wire contract)
            "caller_is_contact": "bool",  # the subscriber called or texted it before
            "caller_is_service": "bool",  # a service prefix or a trusted number
            "caller_fanout_1h": "num",  # the caller's distinct callees in the hour, at the call
            "caller_flagged": "bool",  # flagged by number rules at the call
        },
        "sms": {  # an SMS the subscriber received
            "sender": "str",
            "text": "str",  # empty when the record has none
            "has_url": "bool",
            "sender_is_contact": "bool",
            "sender_is_service": "bool",
            "sender_fanout_1h": "num",
            "sender_flagged": "bool",
        },
        "transfer": {  # a transfer the subscriber made
            "payee_account": "str",
            "amount_cny": "num",
            "payee_is_new": "bool",  # never paid before (in retained state)
            "channel": "str",
        },
    },
    "number": {
        "call": {"callee": "str", "duration_s": "num", "origin": "str"},  # calls it made
        "sms": {"receiver": "str", "text": "str", "has_url": "bool"},  # SMS it sent
    },
}

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "==": "eq", "!=": "ne"}
_MATCHES = ("in", "startswith", "contains")
_KEYWORDS = frozenset({"and", "or", "not", *_MATCHES})

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<duration>\d+(?:\.\d+)?[smhd])(?![A-Za-z0-9_])
      | (?P<number>(?:\d+(?:_\d+)*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_.])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<list>\$[a-z][a-z0-9-]{0,63})(?![A-Za-z0-9_])
      | (?P<string>'[^'\n]*'|"[^"\n]*")
      | (?P<op><=|>=|==|!=|<|>)
      | (?P<punct>[()\[\],.=/*])
    """,
    re.VERBOSE,
)


class WindowError(ValueError):
    """A feature definition that cannot be compiled; the message says where and why."""


# -- the predicate tree ------------------------------------------------------------------


@dataclass(frozen=True)
class IsTrue:
    field: str

    def __str__(self) -> str:
        return self.field


@dataclass(frozen=True)
class NumCmp:
    field: str
    op: str  # lt lte gt gte eq ne
    value: float

    def __str__(self) -> str:
        symbol = {v: k for k, v in _OPS.items()}[self.op]
        return f"{self.field} {symbol} {self.value:g}"


@dataclass(frozen=True)
class TextEq:
    field: str
    equal: bool
    value: str

    def __str__(self) -> str:
        return f"{self.field} {'==' if self.equal else '!='} {self.value!r}"


@dataclass(frozen=True)
class Match:
    """`field in / startswith / contains` a list: `items` given inline, or `list_name`."""

    field: str
    how: str  # in | startswith | contains
    items: tuple[str, ...] = ()
    list_name: str | None = None

    def __str__(self) -> str:
        target = f"${self.list_name}" if self.list_name else repr(list(self.items))
        return f"{self.field} {self.how} {target}"


@dataclass(frozen=True)
class PNot:
    item: Pred

    def __str__(self) -> str:
        return f"not {_wrap(self.item)}"


@dataclass(frozen=True)
class PAnd:
    items: tuple[Pred, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(i) for i in self.items)


@dataclass(frozen=True)
class POr:
    items: tuple[Pred, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(i) for i in self.items)


Pred = IsTrue | NumCmp | TextEq | Match | PNot | PAnd | POr


def _wrap(node: Pred) -> str:
    return f"({node})" if isinstance(node, PAnd | POr) else str(node)


def list_names(node: Pred | None) -> set[str]:
    """The named lists a predicate reads."""
    if node is None:
        return set()
    if isinstance(node, Match):
        return {node.list_name} if node.list_name else set()
    if isinstance(node, PNot):
        return list_names(node.item)
    if isinstance(node, PAnd | POr):
        return set().union(*(list_names(i) for i in node.items))
    return set()


# -- the feature -------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """One parsed feature: `func` of `field` (scaled) over `event`s of `side` that pass
    `where`, within `within_s` of the trigger."""

    func: str
    side: str
    event: str
    field: str | None  # None: count(EVENT)
    scale: float
    within_s: float
    where: Pred | None

    @property
    def source(self) -> str:
        """What is recorded per key: shared by every feature over the same events and
        field, whatever the function, scale or window."""
        value = self.field if self.func != "count" else "*"
        where = f" where {self.where}" if self.where is not None else ""
        return f"{self.side}:{self.event}.{value}{where}"

    @property
    def canonical(self) -> str:
        value = self.field if self.func != "count" else "*"
        scale = f" * {self.scale!r}" if self.scale != 1.0 else ""
        where = f", where={self.where}" if self.where is not None else ""
        within = f"within={self.within_s:g}s"
        return f"{self.func}({self.side}:{self.event}.{value}{scale}, {within}{where})"

    @property
    def fid(self) -> str:
        """A short stable id of the canonical text: the feature's identity across stages."""
        return hashlib.blake2b(self.canonical.encode(), digest_size=6).hexdigest()

    def lists(self) -> set[str]:
        return list_names(self.where)

    def __str__(self) -> str:
        return self.canonical


# -- tokens and parser -------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    kind: str  # duration number name list string op punct end
    text: str
    column: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            hint = {
                "+": "arithmetic other than '/ NUMBER' and '* NUMBER' is not allowed",
                "-": "arithmetic other than '/ NUMBER' and '* NUMBER' is not allowed",
                "{": "braces are not allowed",
                "&": "use 'and', not '&'",
                "|": "use 'or', not '|'",
                "$": "a list name is '$' and lower-case letters, digits and '-'",
            }.get(char, f"unexpected character {char!r}")
            raise WindowError(f"{hint} at column {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            value = match.group(0)
            if kind == "name" and value.startswith("__"):
                raise WindowError(f"names starting with '__' are not allowed at column {pos + 1}")
            if kind == "string" and len(value) - 2 > MAX_STRING:
                raise WindowError(f"text longer than {MAX_STRING} characters at column {pos + 1}")
            out.append(_Tok(kind, value, pos))
        pos = match.end()
    out.append(_Tok("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str, side: str) -> None:
        self.text = text
        self.side = side
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0
        self.nodes = 0
        self.event: str | None = None

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.pos]

    def fail(self, expected: str, tok: _Tok | None = None) -> WindowError:
        tok = tok or self.tok
        found = "the end" if tok.kind == "end" else f"'{tok.text}'"
        return WindowError(f"expected {expected} at column {tok.column + 1} (found {found})")

    def take(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            raise self.fail(f"'{text}'" if text else kind)
        self.pos += 1
        return tok

    def word(self, text: str) -> bool:
        return self.tok.kind == "name" and self.tok.text == text

    def count_node(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise WindowError(f"feature too large (more than {MAX_NODES} terms)")

    # feature := FUNC "(" arg ("," NAME "=" value)* ")"
    def feature(self) -> WindowSpec:
        func_tok = self.tok
        if func_tok.kind != "name":
            raise self.fail("a window function such as count(...) or sum(...)")
        func = func_tok.text
        if func not in FUNCS:
            close = difflib.get_close_matches(func, FUNCS, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise WindowError(
                f"unknown window function '{func}' ({hint}expected one of: {', '.join(FUNCS)})"
            )
        self.pos += 1
        self.take("punct", "(")
        event, field, scale = self.subject(func)
        within: float | None = None
        where: Pred | None = None
        seen: set[str] = set()
        while self.tok.text == ",":
            self.pos += 1
            key = self.take("name")
            if key.text in seen:
                raise WindowError(f"'{key.text}' given twice at column {key.column + 1}")
            seen.add(key.text)
            self.take("punct", "=")
            if key.text == "within":
                within = self.duration()
            elif key.text == "where":
                where = self.or_()
            elif key.text == "side":
                side = self.take("name")
                if side.text not in SIDES:
                    raise WindowError(
                        f"unknown side '{side.text}' at column {side.column + 1} "
                        f"(expected one of: {', '.join(SIDES)})"
                    )
                if side.text != self.side:
                    raise WindowError(
                        f"side={side.text}: this rule's features are on the {self.side} side "
                        "(number-side windows are for `on: number` rules, victim-side ones "
                        "for the others: each stage only holds its own side's state)"
                    )
            else:
                raise WindowError(
                    f"unknown argument '{key.text}' at column {key.column + 1} "
                    "(expected within=, where= or side=)"
                )
        self.take("punct", ")")
        if self.tok.kind != "end":
            raise self.fail("the end of the feature")
        if within is None:
            raise WindowError(f"{func}(...) needs a window: within=30m (1s to 24h)")
        return WindowSpec(func, self.side, event, field, scale, within, where)

    def subject(self, func: str) -> tuple[str, str | None, float]:
        tok = self.take("name")
        if self.tok.text != ".":
            self.set_event(tok)
            if func != "count":
                raise WindowError(
                    f"{func}(...) needs a field such as {tok.text}.{self.example(tok.text)} "
                    f"at column {tok.column + 1}"
                )
            return tok.text, None, 1.0
        self.pos -= 1
        field = self.field()
        kind = self.field_type(field)
        assert self.event is not None
        name = field.split(".", 1)[1]
        if func == "count":
            raise WindowError(
                f"count takes an event type, count({self.event}), not a field; "
                f"filter with where= (found '{field}')"
            )
        if func in NUMERIC_FUNCS and kind != "num":
            raise WindowError(f"{func}(...) needs a numeric field; '{field}' is {_KIND[kind]}")
        scale = 1.0
        if self.tok.text in ("/", "*"):
            op = self.tok
            if func not in NUMERIC_FUNCS:
                raise WindowError(f"{func}(...) takes a field alone, not '{field} {op.text} ...'")
            self.pos += 1
            number = self.number()
            if op.text == "/":
                if number == 0:
                    raise WindowError(f"division by zero at column {op.column + 1}")
                scale = 1.0 / number
            else:
                scale = number
        return self.event, name, scale

    def example(self, event: str) -> str:
        fields = FIELDS[self.side].get(event, {})
        return next((f for f, t in fields.items() if t == "num"), next(iter(fields), "field"))

    def set_event(self, tok: _Tok) -> None:
        events = FIELDS[self.side]
        if tok.text not in events:
            raise WindowError(
                f"unknown event type '{tok.text}' at column {tok.column + 1} "
                f"(on the {self.side} side: {', '.join(events)})"
            )
        if self.event is not None and tok.text != self.event:
            raise WindowError(
                f"'{tok.text}' at column {tok.column + 1}: a feature reads one event type "
                f"({self.event})"
            )
        self.event = tok.text

    def field(self) -> str:
        event = self.take("name")
        self.set_event(event)
        self.take("punct", ".")
        name = self.take("name")
        fields = FIELDS[self.side][event.text]
        if name.text not in fields:
            close = difflib.get_close_matches(name.text, fields, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise WindowError(
                f"unknown field '{event.text}.{name.text}' at column {event.column + 1} "
                f"({hint}{event.text} on the {self.side} side has: {', '.join(fields)})"
            )
        if self.tok.text == ".":
            raise WindowError(f"attribute access is not allowed at column {self.tok.column + 1}")
        return f"{event.text}.{name.text}"

    def field_type(self, field: str) -> FieldType:
        event, name = field.split(".", 1)
        return FIELDS[self.side][event][name]

    def duration(self) -> float:
        tok = self.tok
        if tok.kind != "duration":
            raise self.fail("a duration such as 30m, 2h or 90s")
        self.pos += 1
        seconds = float(tok.text[:-1]) * _UNITS[tok.text[-1]]
        if not 1.0 <= seconds <= MAX_WITHIN_S:
            raise WindowError(
                f"within={tok.text} is out of range at column {tok.column + 1} (1s to 24h: "
                "an idle subscriber's state is dropped after 26 h)"
            )
        return seconds

    def number(self) -> float:
        if self.tok.kind != "number":
            raise self.fail("a number")
        tok = self.take("number")
        value = float(tok.text.replace("_", ""))
        if len(tok.text) > 40 or not math.isfinite(value) or abs(value) > 1e15:
            raise WindowError(
                f"number {tok.text[:40]} at column {tok.column + 1} is out of range "
                "(a finite number at most 1e15 in magnitude)"
            )
        return value

    # predicates
    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise WindowError(f"where= nested too deeply at column {tok.column + 1}")

    def or_(self) -> Pred:
        items = [self.and_()]
        while self.word("or"):
            self.pos += 1
            items.append(self.and_())
        if len(items) == 1:
            return items[0]
        self.count_node()
        return POr(tuple(items))

    def and_(self) -> Pred:
        items = [self.not_()]
        while self.word("and"):
            self.pos += 1
            items.append(self.not_())
        if len(items) == 1:
            return items[0]
        self.count_node()
        return PAnd(tuple(items))

    def not_(self) -> Pred:
        tok = self.tok
        if self.word("not"):
            self.nest(tok)
            self.pos += 1
            item = self.not_()
            self.depth -= 1
            self.count_node()
            return PNot(item)
        if tok.text == "(" and tok.kind == "punct":
            self.nest(tok)
            self.pos += 1
            node = self.or_()
            self.take("punct", ")")
            self.depth -= 1
            return node
        return self.test()

    def test(self) -> Pred:
        tok = self.tok
        if tok.kind != "name" or tok.text in _KEYWORDS:
            raise self.fail("a test such as call.duration_s >= 60 or sms.has_url")
        if self.tokens[self.pos + 1].text != ".":
            raise WindowError(
                f"'{tok.text}' at column {tok.column + 1}: name a field as "
                f"EVENT.FIELD, e.g. {self.event or 'call'}."
                f"{self.example(self.event or 'call')}"
            )
        field = self.field()
        kind = self.field_type(field)
        self.count_node()
        negated = False
        if self.word("not") and self.tokens[self.pos + 1].text in _MATCHES:
            negated = True
            self.pos += 1
        if self.tok.kind == "name" and self.tok.text in _MATCHES:
            node: Pred = self.match(field, kind)
            return PNot(node) if negated else node
        if self.tok.kind != "op":
            if kind == "bool":
                return IsTrue(field)
            example = f"{field} >= 60" if kind == "num" else f"{field} == 'overseas'"
            raise self.fail(f"a comparison after '{field}' (e.g. {example})")
        op = self.take("op")
        if kind == "str":
            if op.text not in ("==", "!="):
                raise WindowError(
                    f"'{field}' is text: compare it with == or != at column {op.column + 1}"
                )
            value = self.take("string") if self.tok.kind == "string" else None
            if value is None:
                raise self.fail(f"a quoted text after '{op.text}' ('{field}' is text)")
            return TextEq(field, op.text == "==", value.text[1:-1])
        if self.tok.kind == "string":
            raise WindowError(f"'{field}' is {_KIND[kind]}: compare it with a number, not text")
        return NumCmp(field, _OPS[op.text], self.number())

    def match(self, field: str, kind: FieldType) -> Pred:
        how = self.take("name").text
        if kind != "str":
            raise WindowError(f"'{how}' needs a text field; '{field}' is {_KIND[kind]}")
        if self.tok.kind == "list":
            name = self.take("list").text[1:]
            return Match(field, how, (), name)
        if how != "in" and self.tok.kind == "string":
            return Match(field, how, (self.take("string").text[1:-1],))
        if how == "in" and self.tok.text == "[":
            self.pos += 1
            items = [self.take("string").text[1:-1]]
            while self.tok.text == ",":
                self.pos += 1
                items.append(self.take("string").text[1:-1])
            self.take("punct", "]")
            return Match(field, how, tuple(items))
        target = "$list-name or ['a', 'b']" if how == "in" else "$list-name or 'text'"
        raise self.fail(f"{target} after '{how}'")


_KIND = {"num": "a number", "bool": "yes/no", "str": "text"}


def parse_feature(text: object, side: str) -> WindowSpec:
    """Parse one feature definition for a rule on `side` (victim | number)."""
    if not isinstance(text, str):
        raise WindowError("a feature is text, e.g. count(sms, within=24h, where=sms.has_url)")
    if len(text) > MAX_LENGTH:
        raise WindowError(f"feature longer than {MAX_LENGTH} characters ({len(text):,})")
    if not text.strip():
        raise WindowError("empty feature")
    return _Parser(text, side).feature()


__all__ = [
    "FIELDS",
    "FUNCS",
    "MAX_WITHIN_S",
    "IsTrue",
    "Match",
    "NumCmp",
    "PAnd",
    "PNot",
    "POr",
    "Pred",
    "TextEq",
    "WindowError",
    "WindowSpec",
    "list_names",
    "parse_feature",
]
