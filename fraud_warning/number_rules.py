"""Number rules on one row at a time: the bounds screen, the exact check of each rule that
passes it, and the verdict with its reasons. Compiled (build_native.py).

Number rules run per call or SMS, not per batch: a number flagged by one event must be
flagged for its very next. So every number row that clears its kind's gate goes through
here alone. Interpreted, this path was about an eighth of the embedded engine's time over
the generated 100,000-subscriber day with 215 rules, most of them shadow variants, which
fire and are logged like the rest.

`rules.Rule` keeps its clauses and reason templates; `Rule.matches` and `Rule.reasons`
call :func:`holds` and :func:`render` here, so there is one evaluation of each. This
module reads rules through `Any` (it sits below `rules`, which imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Clause = tuple[int, str, float]  # (feature column, operator, value): rules.ClauseKey
Slot = tuple[str, int, float, str]  # (placeholder, column, divisor, format)


def holds(clauses: Sequence[Clause], row: Sequence[float]) -> bool:
    """Whether every clause holds on `row` (NaN fails every comparison but `ne`)."""
    for index, op, value in clauses:
        x = row[index]
        if op == "gte":
            ok = x >= value
        elif op == "gt":
            ok = x > value
        elif op == "lte":
            ok = x <= value
        elif op == "lt":
            ok = x < value
        elif op == "eq":
            ok = x == value
        elif op == "ne":
            ok = x != value
        else:
            raise ValueError(f"unknown operator {op!r}")
        if not ok:
            return False
    return True


def matches(rule: Any, row: Sequence[float]) -> bool:
    """Scalar evaluation of one rule on one feature row: all of `when`, one group of
    `any` when given, and the `condition` when given."""
    if not holds(rule.all_of, row):
        return False
    any_of = rule.any_of
    if any_of:
        for group in any_of:
            if holds(group, row):
                break
        else:
            return False
    condition = rule.condition
    return condition is None or bool(condition.holds(row))


def render(templates: Sequence[tuple[str, Sequence[Slot]]], row: Sequence[float]) -> list[str]:
    """Reason templates with the row's values substituted (`{f}`, `{f:.1f}`, `{f/60:.0f}`,
    `{f:d}`, `{f:,}`); substitution only, nothing is looked up or called by name."""
    out = []
    for text, slots in templates:
        for placeholder, index, divisor, fmt in slots:
            value = row[index] / divisor
            if fmt == "d":
                rendered = f"{round(value):d}"
            elif fmt:
                rendered = format(value, fmt)
            else:
                rendered = f"{value:g}"
            text = text.replace(placeholder, rendered)
        out.append(text)
    return out


def bisect_right(bounds: list[float], value: float) -> int:
    """How many of the sorted `bounds` are at or below `value` (bisect.bisect_right on
    floats, compiled: a call into the C bisect cost more than its search)."""
    lo, hi = 0, len(bounds)
    while lo < hi:
        mid = (lo + hi) // 2
        if value < bounds[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


class GateScreen:
    """Which of many rules can fire on one row: each rule's bounds (`Rule.bounds`)
    checked for all rules at once.

    Per bounded (column, sign), the rules' distinct bounds are sorted, and for each
    position in them a bitmask (bit r: rule r) holds the rules a value at that position
    reaches: unbounded there, or bound at or below it. A row costs one bisect and one
    integer AND per bound, stopping as soon as no rule is left; a numpy comparison of the
    row against a bounds matrix cost several times more in fixed overhead alone. The few
    rules that pass are then checked exactly, in registry order."""

    def __init__(self, rules: Sequence[Any]) -> None:
        self.rules: tuple[Any, ...] = tuple(rules)
        table: list[tuple[int, float, list[float], list[int]]] = []
        keys: set[tuple[int, int]] = {key for rule in self.rules for key in rule.bounds}
        for column, sign in keys:
            bounds = sorted(
                {b for rule in self.rules if (b := rule.bounds.get((column, sign))) is not None}
            )
            masks: list[int] = []
            for k in range(len(bounds) + 1):  # k: how many bounds the value reaches
                reached = 0
                for r, rule in enumerate(self.rules):
                    bound = rule.bounds.get((column, sign))
                    if bound is None or (k and bound <= bounds[k - 1]):
                        reached |= 1 << r
                masks.append(reached)
            table.append((column, float(sign), bounds, masks))
        # the bound most rules set first: it is likeliest to end the check
        table.sort(key=lambda entry: entry[3][0].bit_count())
        self._table = table
        self._everyone: int = (1 << len(self.rules)) - 1

    def passing(self, row: Sequence[float]) -> int:
        """The bitmask of rules whose bounds `row` meets (a missing feature, NaN, meets
        none)."""
        passing = self._everyone
        for column, sign, bounds, masks in self._table:
            value = sign * row[column]
            # NaN compares false with every bound: it reaches none, only free rules pass
            passing &= masks[bisect_right(bounds, value) if value == value else 0]
            if not passing:
                return 0
        return passing

    def indices(self, row: Sequence[float]) -> list[int]:
        """The positions of the rules whose bounds `row` meets, in registry order."""
        passing = self.passing(row)
        out = []
        while passing:
            low = passing & -passing
            out.append(low.bit_length() - 1)
            passing ^= low
        return out

    def candidates(self, row: Sequence[float]) -> list[Any]:
        """The rules whose bounds `row` meets, in registry order."""
        rules = self.rules
        return [rules[r] for r in self.indices(row)]


class Fired:
    """What fired on one number row: paging verdicts, and (status, verdict) of the
    models that fired without paging."""

    __slots__ = ("pages", "shadow")

    def __init__(self, pages: list[Any], shadow: list[tuple[str, Any]]) -> None:
        self.pages = pages
        self.shadow = shadow

    def __repr__(self) -> str:
        return f"Fired(pages={self.pages!r}, shadow={self.shadow!r})"


#: What most number rows get: nothing fired. Shared, not built per row; callers only read
#: it, and keep its lists only when non-empty.
NOTHING_FIRED = Fired([], [])


class _Entry:
    """A rule as a firing reads it: its verdict's fields, read off the rule once."""

    __slots__ = ("key", "pages", "priority", "rule", "score", "status", "typology", "version")

    def __init__(self, rule: Any) -> None:
        spec = rule.spec
        self.rule: Any = rule
        self.key: str = rule.key
        self.version: int = spec.version
        self.score: float = spec.score
        self.priority: str = spec.priority
        self.typology: str = spec.typology
        self.status: str = spec.status
        self.pages: bool = rule.pages


class NumberRules:
    """The number rules of one kind: :meth:`fire` on one row. Hits are counted per rule
    here and handed over by :meth:`take_hits` (once per batch, not per hit)."""

    def __init__(self, rules: Sequence[Any], verdict: Callable[..., Any]) -> None:
        """`verdict` builds a verdict: (model key, version, score, priority, typology,
        reasons); risk.Verdict, passed in since this module sits below it."""
        self.screen = GateScreen(rules)
        self._entries = [_Entry(rule) for rule in self.screen.rules]
        self._verdict = verdict
        self._hits = [0] * len(self._entries)

    def fire(self, row: Sequence[float]) -> Fired:
        fired = NOTHING_FIRED
        entries = self._entries
        for r in self.screen.indices(row):
            entry = entries[r]
            rule = entry.rule
            if not matches(rule, row):
                continue
            if fired is NOTHING_FIRED:
                fired = Fired([], [])
            self._hits[r] += 1
            verdict = self._verdict(
                entry.key,
                entry.version,
                entry.score,
                entry.priority,
                entry.typology,
                tuple(render(rule.templates, row)),
            )
            if entry.pages:
                fired.pages.append(verdict)
            else:
                fired.shadow.append((entry.status, verdict))
        return fired

    def take_hits(self) -> list[tuple[Any, int]]:
        """(rule, hits) for each rule that fired since the last call."""
        out = [(e.rule, n) for e, n in zip(self._entries, self._hits, strict=True) if n]
        if out:
            self._hits = [0] * len(self._entries)
        return out


__all__ = [
    "NOTHING_FIRED",
    "Fired",
    "GateScreen",
    "NumberRules",
    "bisect_right",
    "holds",
    "matches",
    "render",
]
