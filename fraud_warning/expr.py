"""Rule conditions: a small expression language, parsed here and compiled, never evaluated.

A rule's `condition:` is a boolean expression over the features of its trigger kind::

    risky_call_s_2h >= 900 and payee_is_new == 1
        and (amount_cny >= 3000 or flagged_contact_24h > 0)

Grammar (keywords are lower case; `not` binds tighter than `and`, `and` than `or`)::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" or ")" | comparison
    comparison := FEATURE OP NUMBER | NUMBER OP FEATURE
                | FEATURE ["not"] "in" "[" NUMBER ("," NUMBER)* "]"
    OP         := "<" | "<=" | ">" | ">=" | "==" | "!="
    NUMBER     := [+-] digits [. digits] [e [+-] digits]   (finite, at most 1e15 in magnitude)

There are no strings, attribute access, calls, variables other than the trigger kind's
feature names, or arithmetic. The text is tokenized and parsed by the recursive-descent
parser below into a tree of comparisons joined by and / or / not; the tree is evaluated
column-wise over a batch's feature matrix (each comparison is a shared clause mask of
:class:`fraud_warning.rules.RuleMatrix`) and as compiled closures over one feature row.
Cost is bounded: at most MAX_LENGTH characters, MAX_DEPTH levels of parentheses and
`not`, MAX_NODES tree nodes.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from fraud_warning.features import CATALOGUE

MAX_LENGTH = 2_000
MAX_DEPTH = 32
MAX_NODES = 500
MAX_ABS = 1e15

#: Comparison symbols and the rule schema's names for them (`when: {x: {gte: 1}}`).
SYMBOLS: dict[str, str] = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "==": "eq", "!=": "ne"}
OP_SYMBOL: dict[str, str] = {op: sym for sym, op in SYMBOLS.items()}
#: `3 < x` is `x > 3`.
_MIRROR = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "eq": "eq", "ne": "ne"}
_SCALAR: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}
_KEYWORDS = frozenset({"and", "or", "not", "in"})

_NUMBER = re.compile(r"(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"\s+")
_HINTS = {
    ".": "attribute access ('.') is not allowed",
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "=": "'=' is not a comparison: use '=='",
    "&": "use 'and', not '&'",
    "|": "use 'or', not '|'",
    "!": "use 'not', not '!'",
    "{": "braces are not allowed",
    "}": "braces are not allowed",
    "+": "arithmetic is not allowed",
    "-": "arithmetic is not allowed",
    "*": "arithmetic is not allowed",
    "/": "arithmetic is not allowed",
    "%": "arithmetic is not allowed",
}


class ExprError(ValueError):
    """A condition that cannot be compiled; the message says where (column) and why."""


# -- the tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    """`feature op value`; `key` is the rules' shared clause key (index, op, value)."""

    index: int
    feature: str
    op: str  # lt lte gt gte eq ne
    value: float
    column: int = field(default=0, compare=False)  # 1-based, in its line of the condition

    @property
    def key(self) -> tuple[int, str, float]:
        return (self.index, self.op, self.value)

    def __str__(self) -> str:
        return f"{self.feature} {OP_SYMBOL[self.op]} {self.value:g}"


@dataclass(frozen=True)
class Not:
    item: Node

    def __str__(self) -> str:
        return f"not {_wrap(self.item)}"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(i) for i in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(i) for i in self.items)


Node = Compare | Not | And | Or


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)


def leaves(node: Node) -> Iterator[Compare]:
    """Every comparison in the tree, left to right."""
    if isinstance(node, Compare):
        yield node
    elif isinstance(node, Not):
        yield from leaves(node.item)
    else:
        for item in node.items:
            yield from leaves(item)


# -- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # name number op ( ) [ ] , end
    text: str
    column: int  # offset in the text (0-based)
    value: float = 0.0


def _where(text: str, offset: int) -> int:
    """1-based column of `offset` in its own line of the condition."""
    return offset - (text.rfind("\n", 0, offset) + 1) + 1


def _at(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = _where(text, offset)
    return f"at line {line}, column {column}" if "\n" in text else f"at column {column}"


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos, end = 0, len(text)
    while pos < end:
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
            continue
        start, char = pos, text[pos]
        two = text[pos : pos + 2]
        sign = 1 if char in "+-" else 0
        match = _NUMBER.match(text, pos + sign)
        if match is not None:  # a number, with its sign if any
            pos = match.end()
            if pos < end and (text[pos].isalnum() or text[pos] in "_."):
                raise ExprError(f"malformed number {_at(text, start)}")
            literal = text[start:pos]
            out.append(_Token("number", literal, start, _number(literal, text, start)))
        elif _NAME.match(text, pos):
            match = _NAME.match(text, pos)
            assert match is not None
            name = match.group(0)
            if name.startswith("__"):
                raise ExprError(f"names starting with '__' are not allowed {_at(text, start)}")
            if name != name.lower() and name.lower() in _KEYWORDS:
                raise ExprError(f"write '{name.lower()}' in lower case {_at(text, start)}")
            pos = match.end()
            if text[pos : pos + 1] == ".":
                raise ExprError(f"attribute access ('.') is not allowed {_at(text, pos)}")
            after = _SPACE.match(text, pos)
            paren = after.end() if after else pos
            if text[paren : paren + 1] == "(" and name not in _KEYWORDS:
                raise ExprError(
                    f"function calls are not allowed {_at(text, paren)} ('{name}(...)')"
                )
            out.append(_Token("name", name, start))
        elif two in SYMBOLS:
            out.append(_Token("op", two, start))
            pos += 2
        elif char in SYMBOLS:
            out.append(_Token("op", char, start))
            pos += 1
        elif char in "()[],":
            out.append(_Token(char, char, start))
            pos += 1
        elif char in _HINTS:
            raise ExprError(f"{_HINTS[char]} {_at(text, start)}")
        else:
            raise ExprError(f"unexpected character {char!r} {_at(text, start)}")
    out.append(_Token("end", "", end))
    return out


def _number(literal: str, text: str, offset: int) -> float:
    digits = literal.replace("_", "")
    if len(digits) > 40:
        raise ExprError(f"number too long {_at(text, offset)} (at most 40 characters)")
    value = float(digits)
    if not math.isfinite(value) or abs(value) > MAX_ABS:
        raise ExprError(
            f"number {literal} {_at(text, offset)} is out of range "
            f"(a finite number at most 1e15 in magnitude)"
        )
    return value


# -- the parser ------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, names: Sequence[str], kind: str | None) -> None:
        self.text = text
        self.names = tuple(names)
        self.kind = kind
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    # helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def at(self, token: _Token) -> str:
        return _at(self.text, token.column)

    def found(self, token: _Token) -> str:
        return "end of condition" if token.kind == "end" else f"'{token.text}'"

    def fail(self, expected: str, token: _Token | None = None) -> ExprError:
        token = token or self.tok
        return ExprError(f"expected {expected} {self.at(token)} (found {self.found(token)})")

    def keyword(self, word: str) -> bool:
        return self.tok.kind == "name" and self.tok.text == word

    def node(self, node: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExprError(f"condition too large (more than {MAX_NODES} terms)")
        return node

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(
                f"condition nested too deeply {self.at(token)} "
                f"(at most {MAX_DEPTH} levels of parentheses and 'not')"
            )

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExprError("empty condition")
        node = self.or_()
        if self.tok.kind != "end":
            if self.tok.kind == ")":
                raise ExprError(f"unmatched ')' {self.at(self.tok)}")
            raise self.fail("'and', 'or' or the end of the condition")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.keyword("or"):
            self.pos += 1
            items.append(self.and_())
        return items[0] if len(items) == 1 else self.node(Or(_flat(items, Or)))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.keyword("and"):
            self.pos += 1
            items.append(self.not_())
        return items[0] if len(items) == 1 else self.node(And(_flat(items, And)))

    def not_(self) -> Node:
        token = self.tok
        if self.keyword("not"):
            self.nest(token)
            self.pos += 1
            item = self.not_()
            self.depth -= 1
            return self.node(Not(item))
        if token.kind == "(":
            self.nest(token)
            self.pos += 1
            node = self.or_()
            if self.tok.kind != ")":
                raise self.fail("')'")
            self.pos += 1
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        token = self.tok
        if token.kind == "number":
            self.pos += 1
            op = self.tok
            if op.kind != "op":
                raise self.fail("a comparison (<, <=, >, >=, ==, !=)")
            self.pos += 1
            name = self.tok
            if name.kind != "name" or name.text in _KEYWORDS:
                raise self.fail("a feature name")
            self.pos += 1
            self.check_call(name)
            index = self.feature(name)
            column = _where(self.text, token.column)
            return self.node(
                Compare(index, name.text, _MIRROR[SYMBOLS[op.text]], token.value, column)
            )
        if token.kind != "name" or token.text in _KEYWORDS:
            raise self.fail("a comparison such as 'amount_cny >= 3000'")
        self.pos += 1
        self.check_call(token)
        index = self.feature(token)
        op = self.tok
        negated = False
        if self.keyword("not") and self.tokens[self.pos + 1].text == "in":
            negated = True
            self.pos += 1
        if self.keyword("in"):
            self.pos += 1
            return self.membership(token, index, negated)
        if op.kind != "op":
            raise self.fail(
                f"a comparison after '{token.text}' (e.g. {token.text} >= 1, "
                f"{token.text} == 0 or {token.text} in [1, 2])"
            )
        self.pos += 1
        value = self.tok
        if value.kind != "number":
            raise self.fail(
                f"a number after '{op.text}' (comparisons are between a feature and a number)"
            )
        self.pos += 1
        column = _where(self.text, token.column)
        return self.node(Compare(index, token.text, SYMBOLS[op.text], value.value, column))

    def membership(self, name: _Token, index: int, negated: bool) -> Node:
        if self.tok.kind != "[":
            raise self.fail("'[' after 'in'")
        self.pos += 1
        items: list[Node] = []
        while True:
            value = self.tok
            if value.kind != "number":
                raise self.fail("a number in the list")
            self.pos += 1
            column = _where(self.text, name.column)
            items.append(self.node(Compare(index, name.text, "eq", value.value, column)))
            if self.tok.kind == ",":
                self.pos += 1
                continue
            if self.tok.kind != "]":
                raise self.fail("',' or ']'")
            self.pos += 1
            break
        node = items[0] if len(items) == 1 else self.node(Or(tuple(items)))
        return self.node(Not(node)) if negated else node

    def check_call(self, name: _Token) -> None:
        if self.tok.kind == "(":
            raise ExprError(
                f"function calls are not allowed {self.at(self.tok)} ('{name.text}(...)')"
            )

    def feature(self, token: _Token) -> int:
        name = token.text
        if name in self.names:
            return self.names.index(name)
        where = f"unknown feature '{name}'"
        close = difflib.get_close_matches(name, self.names, n=1, cutoff=0.75)
        if close:
            hint = f"did you mean '{close[0]}'?"
        else:
            elsewhere = [k for k, names in CATALOGUE.items() if name in names and k != self.kind]
            if elsewhere and self.kind:
                hint = f"it is a feature of '{elsewhere[0]}' rules, not of '{self.kind}' rules"
            else:
                hint = f"expected one of: {', '.join(self.names)}"
        raise ExprError(f"{where} ({hint}) {self.at(token)}")


def _flat(items: list[Node], kind: type[And] | type[Or]) -> tuple[Node, ...]:
    """`a and (b and c)` is one And of three: fewer nodes, the same meaning."""
    out: list[Node] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)


# -- compiled --------------------------------------------------------------------------


Row = Sequence[float]
Clause = Callable[[tuple[int, str, float]], np.ndarray]


@dataclass(frozen=True)
class Condition:
    """A parsed condition: its tree, a scalar closure and column-wise evaluation."""

    text: str
    root: Node
    holds: Callable[[Row], bool] = field(compare=False, repr=False)

    def mask(self, clause: Clause) -> np.ndarray:
        """Column-wise over a batch; `clause(key)` returns the shared mask of a comparison
        (never modified here)."""
        return _mask(self.root, clause)

    def gates(self) -> dict[int, float]:
        """Lower bounds the condition requires: its top-level `feature >= c` (or `> c`)
        comparisons, joined by `and`. Anything else (or, not, <, ==) gives none."""
        bounds: dict[int, float] = {}
        for item in self.conjuncts():
            if item.op in ("gt", "gte"):
                bounds[item.index] = max(bounds.get(item.index, -math.inf), item.value)
        return bounds

    def conjuncts(self) -> tuple[Compare, ...]:
        """The comparisons every true row meets: the top level's, joined by `and`."""
        items = self.root.items if isinstance(self.root, And) else (self.root,)
        return tuple(item for item in items if isinstance(item, Compare))

    def leaves(self) -> tuple[Compare, ...]:
        return tuple(leaves(self.root))

    def __str__(self) -> str:
        return str(self.root)


def _mask(node: Node, clause: Clause) -> np.ndarray:
    if isinstance(node, Compare):
        return clause(node.key)
    if isinstance(node, Not):
        inverse: np.ndarray = np.logical_not(_mask(node.item, clause))
        return inverse
    first, second, *rest = (_mask(item, clause) for item in node.items)
    out: np.ndarray
    if isinstance(node, And):
        out = first & second  # a new array: the shared clause masks stay as they are
        for part in rest:
            out &= part
    else:
        out = first | second
        for part in rest:
            out |= part
    return out


def _closure(node: Node) -> Callable[[Row], bool]:
    if isinstance(node, Compare):
        index, value, op = node.index, node.value, _SCALAR[node.op]
        return lambda row: op(row[index], value)
    if isinstance(node, Not):
        inner = _closure(node.item)
        return lambda row: not inner(row)
    parts = tuple(_closure(item) for item in node.items)
    if isinstance(node, And):

        def every(row: Row) -> bool:
            return all(part(row) for part in parts)

        return every

    def some(row: Row) -> bool:
        return any(part(row) for part in parts)

    return some


def parse(text: str, names: Sequence[str], kind: str | None = None) -> Condition:
    """Parse and compile `text` over the feature `names` (of trigger `kind`, for hints).

    Raises ExprError with the column of the problem."""
    if not isinstance(text, str):
        raise ExprError("a condition must be text")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"condition longer than {MAX_LENGTH} characters ({len(text):,})")
    root = _Parser(text, names, kind).parse()
    return Condition(text, root, _closure(root))


__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NODES",
    "OP_SYMBOL",
    "SYMBOLS",
    "And",
    "Compare",
    "Condition",
    "ExprError",
    "Node",
    "Not",
    "Or",
    "leaves",
    "parse",
]
