"""`fraud-warning rules lint DIR`: findings about rules that load but are probably wrong.

Each finding has a severity: `error` (the rule set should not ship: a file that does not
load, a duplicate id, a rule that can never fire), `warning` (a threshold outside the
values its feature can take, a stable rule with no `falsepositives` or no real `owner`, a
deprecated rule, an `any` group that can never hold, a rule that fires on every trigger)
or `info` (no `tests:` block, a fractional threshold on a whole count). The command exits
1 when there is an error.

Ranges come from :data:`RANGES`, beside the feature catalogue's meaning: flags are 0 or 1,
shares lie in [0, 1], counts and durations are never negative. A rule's own windowed
features get theirs from the function and the field (:func:`window_range`): a count is
a whole number up to what a window holds, a max of durations is at most a week. "Can never fire" is
decided exactly over those ranges (comparisons of one feature with numbers are
intervals), after rewriting the rule as alternatives of plain comparisons; a rule too
large to rewrite is reported as not checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fraud_warning.expr import OP_SYMBOL, And, Compare, Node, Not, Or, leaves
from fraud_warning.features import NO_CONTACT_S
from fraud_warning.registry import rule_files
from fraud_warning.rules import Rule, RuleError, compile_rule, rule_documents
from fraud_warning.state import ACTIVE_CAP_S
from fraud_warning.windowlang import WindowSpec
from fraud_warning.windows import MAX_ENTRIES
from fraud_warning.wire import MAX_AMOUNT_CNY, MAX_DURATION_S
from fraud_warning.yamlsafe import line_of

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
MAX_ALTERNATIVES = 4096  # alternatives a rule is rewritten into before "not checked"
_PLACEHOLDER_OWNERS = frozenset({"tbd", "todo", "unknown", "none", "nobody", "-", "?", "n/a"})


@dataclass(frozen=True)
class FeatureRange:
    """The values a feature can take: [lo, hi] (lo excluded when `lo_open`)."""

    what: str
    lo: float = 0.0
    hi: float = math.inf
    integer: bool = False
    lo_open: bool = False

    def describe(self) -> str:
        if self.integer and (self.lo, self.hi) == (0.0, 1.0):
            return f"{self.what}, 0 or 1"
        left = "(" if self.lo_open else "["
        hi = "∞)" if math.isinf(self.hi) else f"{self.hi:g}]"
        whole = ", whole numbers" if self.integer else ""
        return f"{self.what}, {left}{self.lo:g}, {hi}{whole}"


FLAG = FeatureRange("a flag", 0.0, 1.0, integer=True)
SHARE = FeatureRange("a share", 0.0, 1.0)
COUNT = FeatureRange("a count", integer=True)
RATE = FeatureRange("a count per hour (smoothed over the hour, so fractional)")
SECONDS = FeatureRange("a duration in seconds")
AMOUNT = FeatureRange("an amount in CNY")

#: Feature → the values it can take (see fraud_warning.features for their meaning).
RANGES: dict[str, FeatureRange] = {
    # victim context
    "noncontact_call_s_2h": SECONDS,
    "risky_call_s_2h": SECONDS,
    "max_noncontact_call_s_2h": SECONDS,
    "since_noncontact_call_s": FeatureRange("seconds since a contact", 0.0, NO_CONTACT_S),
    "caller_fanout_max_2h": RATE,
    "flagged_contact_24h": COUNT,
    "flagged_call_s_24h": SECONDS,
    "url_sms_unknown_24h": COUNT,
    "sms_unknown_2h": COUNT,
    "elderly": FLAG,
    "risk_context": FLAG,
    # transfer
    "amount_cny": FeatureRange("an amount in CNY", lo_open=True),
    "payee_is_new": FLAG,
    "new_payee_transfers_2h": COUNT,
    "new_payee_amount_2h": AMOUNT,
    "new_payee_transfers_24h": COUNT,
    "new_payee_amount_24h": AMOUNT,
    "payee_payers_24h": COUNT,
    "payee_risky_payers_24h": COUNT,
    "payee_risky_share_24h": SHARE,
    "payee_large_payers_24h": COUNT,
    "payee_linked_payers_24h": COUNT,
    "payee_linked_share_24h": SHARE,
    # call, seen from the callee
    "call_duration_s": FeatureRange("a duration in seconds", integer=True),
    "caller_origin_risky": FLAG,
    "caller_fanout_1h": RATE,
    "caller_flagged": FLAG,
    # SMS, seen from the receiver
    "sms_has_url": FLAG,
    "sender_flagged": FLAG,
    "sender_fanout_1h": RATE,
    # the calling number's own profile
    "fanout_1h": RATE,
    "calls_1h": RATE,
    "short_call_ratio_1h": SHARE,
    "long_calls_1h": RATE,
    "origin_risky": FLAG,
    "active_s": FeatureRange("seconds since the number was first seen", 0.0, ACTIVE_CAP_S),
}
_ANY_VALUE = FeatureRange("a number", -math.inf)  # a feature without a known range
Ranges = Mapping[str, FeatureRange]

#: Numeric event fields a window aggregates → their values (the wire contract's bounds).
FIELD_RANGES: dict[str, FeatureRange] = {
    "duration_s": FeatureRange("a duration in seconds", 0.0, MAX_DURATION_S, integer=True),
    "amount_cny": FeatureRange("an amount in CNY", 0.0, MAX_AMOUNT_CNY),
    "caller_fanout_1h": RATE,
    "sender_fanout_1h": RATE,
}


def feature_range(feature: str, ranges: Ranges = RANGES) -> FeatureRange:
    return ranges.get(feature, _ANY_VALUE)


def window_range(spec: WindowSpec) -> FeatureRange:
    """The values a rule's own windowed feature can take. A window with no events reads 0,
    and a window holds at most MAX_ENTRIES events, which bounds counts."""
    what = f"{spec.func}() over a window"
    if spec.func in ("count", "distinct"):
        return FeatureRange(f"{what}, which holds {MAX_ENTRIES:,} events at most",
                            0.0, float(MAX_ENTRIES), integer=True)  # fmt: skip
    # the grammar allows only numeric fields and non-negative scales here
    field = FIELD_RANGES.get(spec.field or "", _ANY_VALUE)
    if field is _ANY_VALUE:
        return _ANY_VALUE
    hi = field.hi * spec.scale
    if spec.func == "sum":
        hi *= MAX_ENTRIES
    whole = field.integer and spec.scale == 1.0 and spec.func != "avg"
    return FeatureRange(f"{what} of {spec.event}.{spec.field}", 0.0, hi, integer=whole)


def rule_ranges(rule: Rule) -> Ranges:
    """The catalogue's ranges plus those of the rule's own windowed features."""
    if not rule.windows:
        return RANGES
    return {**RANGES, **{name: window_range(spec) for name, spec in rule.windows}}


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    severity: Severity = field(compare=False)
    rule: str  # rule id, or "" when the file did not load
    code: str
    message: str

    def __str__(self) -> str:
        who = f"{self.rule}: " if self.rule else ""
        return f"{self.file}:{self.line}: {self.severity}: {who}{self.message} [{self.code}]"


# -- intervals -------------------------------------------------------------------------

_NEGATE = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt", "eq": "ne", "ne": "eq"}


@dataclass
class _Span:
    """The values one feature may still take in one alternative."""

    lo: float
    lo_open: bool
    hi: float
    hi_open: bool
    integer: bool
    excluded: set[float] = field(default_factory=set)

    @classmethod
    def of(cls, r: FeatureRange) -> _Span:
        return cls(r.lo, r.lo_open, r.hi, False, r.integer)

    def add(self, op: str, value: float) -> None:
        if op in ("gt", "gte", "eq"):
            is_open = op == "gt"
            if value > self.lo or (value == self.lo and is_open):
                self.lo, self.lo_open = value, is_open
        if op in ("lt", "lte", "eq"):
            is_open = op == "lt"
            if value < self.hi or (value == self.hi and is_open):
                self.hi, self.hi_open = value, is_open
        if op == "ne":
            self.excluded.add(value)

    def possible(self) -> bool:
        if self.integer and math.isfinite(self.lo):
            k = float(math.floor(self.lo) + 1 if self.lo_open else math.ceil(self.lo))
            high = self.hi
            if math.isfinite(high):
                high = math.ceil(high) - 1 if self.hi_open else math.floor(high)
            while k <= high and k in self.excluded:
                k += 1
            return k <= high
        if self.lo < self.hi:
            return True
        return (
            self.lo == self.hi
            and not self.lo_open
            and not self.hi_open
            and self.lo not in self.excluded
        )


Literal_ = tuple[str, str, float]  # (feature, op, value)


def _conflict(term: Sequence[Literal_], ranges: Ranges) -> str | None:
    """Why these comparisons cannot all hold, or None when they can."""
    by_feature: dict[str, list[tuple[str, float]]] = {}
    for feature, op, value in term:
        by_feature.setdefault(feature, []).append((op, value))
    for feature, comparisons in by_feature.items():
        r = feature_range(feature, ranges)
        span = _Span.of(r)
        for op, value in comparisons:
            span.add(op, value)
        if span.possible():
            continue
        about = f" ({feature} is {r.describe()})" if r is not _ANY_VALUE else ""
        for op, value in comparisons:
            if _alone_impossible(feature, op, value, ranges):
                return f"{feature} {OP_SYMBOL[op]} {value:g} is never true{about}"
        text = " and ".join(f"{feature} {OP_SYMBOL[op]} {value:g}" for op, value in comparisons)
        return f"{text} cannot all hold{about}"
    return None


def _alone_impossible(feature: str, op: str, value: float, ranges: Ranges) -> bool:
    span = _Span.of(feature_range(feature, ranges))
    span.add(op, value)
    return not span.possible()


class _TooLarge(Exception):
    pass


def _alternatives(node: Node, negated: bool, ranges: Ranges) -> list[list[Literal_]]:
    """The node as an OR of ANDs of plain comparisons (negations pushed into the ops)."""
    if isinstance(node, Compare):
        op = _NEGATE[node.op] if negated else node.op
        return [[(node.feature, op, node.value)]]
    if isinstance(node, Not):
        return _alternatives(node.item, not negated, ranges)
    conjunction = isinstance(node, And) != negated  # not (a or b) == not a and not b
    parts = [_alternatives(item, negated, ranges) for item in node.items]
    if not conjunction:
        out = [term for part in parts for term in part]
        if len(out) > MAX_ALTERNATIVES:
            raise _TooLarge
        return out
    terms: list[list[Literal_]] = [[]]
    for part in parts:
        if len(terms) * len(part) > 4 * MAX_ALTERNATIVES:  # bound the work, not just the result
            raise _TooLarge
        terms = [t + u for t in terms for u in part if _conflict(t + u, ranges) is None] or [
            terms[0] + part[0]  # keep one impossible alternative, to explain it
        ]
        if len(terms) > MAX_ALTERNATIVES:
            raise _TooLarge
    return terms


def _formula(rule: Rule) -> Node:
    """The whole rule (when, any and condition) as one expression tree."""
    names = rule.names

    def compare(key: tuple[int, str, float]) -> Compare:
        index, op, value = key
        return Compare(index, names[index], op, value)

    items: list[Node] = [compare(k) for k in rule.all_of]
    if rule.any_of:
        items.append(Or(tuple(And(tuple(compare(k) for k in group)) for group in rule.any_of)))
    if rule.condition is not None:
        items.append(rule.condition.root)
    return And(tuple(items))


# -- checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    rule: Rule
    lines: dict[tuple[str | int, ...], int]

    def line(self, *loc: str | int) -> int:
        return line_of(self.lines, loc)


_MESSAGE = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<text>.*)$", re.DOTALL)


def _load(paths: Iterable[Path]) -> tuple[list[_Loaded], list[Finding]]:
    loaded: list[_Loaded] = []
    findings: list[Finding] = []
    for path in paths:
        file = str(path)
        try:
            documents = rule_documents(path)
        except RuleError as exc:
            findings.append(_invalid(file, exc))
            continue
        for data, lines in documents:
            try:
                rule = compile_rule(data, lines, file)
            except RuleError as exc:
                findings.append(_invalid(file, exc))
                continue
            loaded.append(_Loaded(rule, dict(lines)))
    return loaded, findings


def _invalid(file: str, exc: RuleError) -> Finding:
    match = _MESSAGE.match(str(exc))
    if match and match.group("file") == file:
        return Finding(file, int(match.group("line")), "error", "", "invalid", match["text"])
    return Finding(file, 1, "error", "", "invalid", str(exc))


def _leaf_places(item: _Loaded) -> list[tuple[Compare, int, str]]:
    """Every comparison of the rule with its line and where it is written."""
    rule = item.rule
    names = rule.names
    out: list[tuple[Compare, int, str]] = []
    for index, op, value in rule.all_of:
        feature = names[index]
        out.append((Compare(index, feature, op, value), item.line("when", feature), "when"))
    for i, group in enumerate(rule.any_of):
        for index, op, value in group:
            feature = names[index]
            compare = Compare(index, feature, op, value)
            out.append((compare, item.line("any", i, feature), f"any[{i}]"))
    if rule.condition is not None:
        line = item.line("condition")
        for leaf in leaves(rule.condition.root):
            out.append((leaf, line, f"condition (column {leaf.column})"))
    return out


def _check_thresholds(item: _Loaded) -> list[Finding]:
    ranges = rule_ranges(item.rule)
    out: list[Finding] = []
    seen: set[tuple[str, str, float, str]] = set()
    for leaf, line, where in _leaf_places(item):
        key = (leaf.feature, leaf.op, leaf.value, where)
        if key in seen:  # `x in [...]` repeats the feature; say it once per value
            continue
        seen.add(key)
        r = feature_range(leaf.feature, ranges)
        text = f"{where}: {leaf}"
        if r is FLAG and leaf.value not in (0.0, 1.0):
            out.append(
                _finding(
                    item,
                    line,
                    "warning",
                    "threshold-range",
                    f"{text}: {leaf.feature} is a flag (0 or 1); compare it with 0 or 1",
                )
            )
            continue
        never = _alone_impossible(leaf.feature, leaf.op, leaf.value, ranges)
        always = _alone_impossible(leaf.feature, _NEGATE[leaf.op], leaf.value, ranges)
        if never or always:
            verdict = "never true" if never else "always true"
            out.append(
                _finding(
                    item,
                    line,
                    "warning",
                    "threshold-range",
                    f"{text} is {verdict}: {leaf.feature} is {r.describe()}",
                )
            )
        elif r.integer and leaf.value != math.floor(leaf.value) and leaf.op != "ne":
            out.append(
                _finding(
                    item,
                    line,
                    "info",
                    "fractional-threshold",
                    f"{text}: {leaf.feature} is a whole number; a fractional threshold "
                    "reads as a mistake",
                )
            )
    return out


def _check_fires(item: _Loaded) -> list[Finding]:
    rule = item.rule
    ranges = rule_ranges(rule)
    line = item.line("condition") if rule.condition is not None else item.line("when")
    try:
        terms = _alternatives(_formula(rule), False, ranges)
    except _TooLarge:
        return [
            _finding(
                item,
                line,
                "info",
                "not-checked",
                f"too many alternatives (over {MAX_ALTERNATIVES}) to check whether it can fire",
            )
        ]
    reasons = [_conflict(term, ranges) for term in terms]
    if all(reason is not None for reason in reasons):
        why = reasons[0]
        if len(terms) > 1:
            why = f"none of its {len(terms)} alternatives can hold, e.g. {why}"
        return [_finding(item, line, "error", "never-fires", f"can never fire: {why}")]
    out: list[Finding] = []
    when = [(rule.names[i], op, v) for i, op, v in rule.all_of]
    for i, group in enumerate(rule.any_of):
        names = rule.names
        reason = _conflict(when + [(names[k], op, v) for k, op, v in group], ranges)
        if reason is not None:
            out.append(
                _finding(
                    item,
                    item.line("any", i),
                    "warning",
                    "dead-branch",
                    f"any[{i}] can never hold together with 'when': {reason}",
                )
            )
    try:
        against = _alternatives(_formula(rule), True, ranges)
    except _TooLarge:
        return out
    if all(_conflict(term, ranges) is not None for term in against):
        out.append(
            _finding(
                item,
                line,
                "warning",
                "always-fires",
                f"fires on every '{rule.spec.on}' trigger: no comparison narrows it",
            )
        )
    return out


def _check_metadata(item: _Loaded) -> list[Finding]:
    spec = item.rule.spec
    out: list[Finding] = []
    if spec.status == "deprecated":
        out.append(
            _finding(
                item,
                item.line("status"),
                "warning",
                "deprecated",
                "deprecated: it is loaded but never runs; delete the file or revive the rule",
            )
        )
    if spec.status == "stable":
        if not [text for text in spec.falsepositives if text.strip()]:
            out.append(
                _finding(
                    item,
                    item.line("falsepositives") if spec.falsepositives else item.line("status"),
                    "warning",
                    "no-falsepositives",
                    "stable rule without 'falsepositives': tell the desk what else makes it fire",
                )
            )
        if spec.owner.strip().lower() in _PLACEHOLDER_OWNERS or not spec.owner.strip():
            out.append(
                _finding(
                    item,
                    item.line("owner"),
                    "warning",
                    "no-owner",
                    f"stable rule without a real 'owner' ({spec.owner!r}): who tunes it?",
                )
            )
    if not spec.tests:
        out.append(
            _finding(
                item,
                item.line("id"),
                "info",
                "no-tests",
                "no 'tests:' block: add an example that fires and one that stays quiet",
            )
        )
    return out


def _finding(item: _Loaded, line: int, severity: Severity, code: str, message: str) -> Finding:
    return Finding(item.rule.source, line, severity, item.rule.spec.id, code, message)


def lint_files(paths: Iterable[Path]) -> list[Finding]:
    """Every finding about the rules in `paths`, by file and line."""
    loaded, findings = _load(paths)
    first: dict[str, _Loaded] = {}
    for item in loaded:
        spec = item.rule.spec
        other = first.setdefault(spec.id, item)
        if other is not item:
            findings.append(
                _finding(
                    item,
                    item.line("id"),
                    "error",
                    "duplicate-id",
                    f"duplicate rule id '{spec.id}' (also in {other.rule.source}:"
                    f"{other.line('id')})",
                )
            )
        findings += _check_metadata(item)
        findings += _check_thresholds(item)
        findings += _check_fires(item)
    return sorted(findings)


def lint_directory(directory: Path) -> list[Finding]:
    return lint_files(rule_files(directory))


def counts(findings: Iterable[Finding]) -> dict[Severity, int]:
    out: dict[Severity, int] = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        out[finding.severity] += 1
    return out


__all__ = [
    "FIELD_RANGES",
    "RANGES",
    "SEVERITIES",
    "FeatureRange",
    "Finding",
    "counts",
    "feature_range",
    "lint_directory",
    "lint_files",
    "rule_ranges",
    "window_range",
]
