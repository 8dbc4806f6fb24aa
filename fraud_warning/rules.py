"""Analyst rules: YAML data validated by a closed schema, compiled to column-wise masks.

A rule names its trigger (`on`), clauses over the shared features (all of `when`, and
at least one group of `any` when given), and/or a `condition:` expression (and, or, not,
parentheses, comparisons of a feature with a number; see :mod:`fraud_warning.expr`),
a score, and reason templates. Besides the catalogue's features a rule may define its
own under `features:`, windowed aggregates in :mod:`fraud_warning.windowlang`, laid out
as extra columns when the registry is built (:meth:`Rule.bind`). When both `when`/`any`
and `condition` are given they must all hold. Rules never execute code: clauses are
(feature, comparison, number) triples, a condition is parsed by the project's own
grammar into a tree of such triples, and templates only substitute feature values.
Shared clauses are evaluated once per batch for all rules.

Example::

    id: police-impersonation-transfer
    version: 1
    title: Transfer to a new payee after a long call from a risky origin
    typology: impersonating_police
    status: stable
    priority: P1
    owner: anti-fraud-desk
    on: transfer
    when:
      risky_call_s_2h: {gte: 900}
      payee_is_new: {eq: 1}
    score: 0.9
    reasons: ["{risky_call_s_2h/60:.0f} min on calls from risky origins in the last 2 h"]

Or as an expression (here with an alternative added)::

    condition: >-
      risky_call_s_2h >= 900 and payee_is_new == 1
      and (amount_cny >= 3000 or flagged_contact_24h > 0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from fraud_warning.expr import Condition, ExprError, parse
from fraud_warning.features import CATALOGUE
from fraud_warning.number_rules import GateScreen, matches, render
from fraud_warning.windowlang import WindowError, WindowSpec, parse_feature
from fraud_warning.windows import KIND_SIDE
from fraud_warning.yamlsafe import YamlError, line_of, load_file, schema_error

Status = Literal["experimental", "shadow", "stable", "deprecated"]
Op = Literal["gt", "gte", "lt", "lte", "eq", "ne"]
PRIORITY_RANK = {"P1": 1, "P2": 2, "P3": 3}

_OPS: dict[str, Callable[[np.ndarray, float | np.ndarray], np.ndarray]] = {
    "gt": np.greater,
    "gte": np.greater_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "eq": np.equal,
    "ne": np.not_equal,
}
# {feature}, {feature:.1f}, {feature/60:.0f}: substitution only, never attribute access.
_PLACEHOLDER = re.compile(
    r"\{([a-z_][a-z0-9_]*)(?:/([0-9]+(?:\.[0-9]+)?))?(?::(\.[0-6][f%]|d|,))?\}"
)
_BRACE = re.compile(r"[{}]")


def _not_bool(value: Any) -> Any:
    # YAML 1.1 reads yes/no/on/off as booleans, and pydantic would take True as 1.
    # Strings stay allowed: PyYAML reads a plain 1e5 as the string "1e5".
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


NotBool = BeforeValidator(_not_bool)
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15), NotBool]
Clauses = dict[str, dict[Op, Number]]
FeatureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
MAX_FEATURES = 32


class RuleError(ValueError):
    """A rule file that cannot be loaded; the message names file:line and the field."""


class RuleTest(BaseModel):
    """A rule's own example: events that must make it fire, or must leave it quiet.

    Event `ts` may be an offset from the test's start (`+0s`, `+35m`, `+2h`) or an RFC 3339
    time; `event_id` is filled in when absent. Checked by `fraud-warning rules validate`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    expect: Literal["fire", "quiet"]
    events: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=500)]


class RuleSpec(BaseModel):
    """The rule file schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,79}$")]
    version: Annotated[int, Field(ge=1), NotBool]
    title: Annotated[str, Field(min_length=3, max_length=200)]
    description: str = ""
    typology: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    status: Status
    priority: Literal["P1", "P2", "P3"]
    owner: Annotated[str, Field(min_length=1)]
    on: Literal["transfer", "call", "sms", "number", "number_sms"]
    when: Clauses = Field(default_factory=dict)
    any: list[Clauses] = Field(default_factory=list)
    condition: str | None = None
    # name → definition in the window language (fraud_warning.windowlang)
    features: dict[FeatureName, str] = Field(default_factory=dict, max_length=MAX_FEATURES)
    score: Annotated[float, Field(gt=0, le=1), NotBool]
    realert_s: Annotated[float, Field(ge=0, le=7 * 86400), NotBool] = 3600.0
    reasons: Annotated[list[str], Field(min_length=1)]
    falsepositives: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    tests: list[RuleTest] = Field(default_factory=list)

    @field_validator("when")
    @classmethod
    def _non_empty(cls, value: Clauses) -> Clauses:
        if not value:
            raise ValueError("a rule needs at least one clause in 'when'")
        return value

    @model_validator(mode="after")
    def _has_a_condition(self) -> RuleSpec:
        if not self.when and not self.any and self.condition is None:
            raise ValueError("a rule needs clauses in 'when' or a 'condition'")
        return self


ClauseKey = tuple[int, str, float]


@dataclass(frozen=True)
class Rule:
    """A compiled rule: clause keys index the trigger kind's feature columns."""

    spec: RuleSpec
    source: str
    all_of: tuple[ClauseKey, ...]
    any_of: tuple[tuple[ClauseKey, ...], ...]
    templates: tuple[tuple[str, tuple[tuple[str, int, float, str], ...]], ...]
    test_lines: tuple[int, ...] = ()  # line of each entry of spec.tests, for messages
    condition: Condition | None = None  # the parsed `condition:`, ANDed with when/any
    # the names feature indices refer to: the kind's catalogue, then window columns
    names: tuple[str, ...] = ()
    windows: tuple[tuple[str, WindowSpec], ...] = ()  # the rule's own features, by name
    lines: Mapping[tuple[str | int, ...], int] = field(
        default_factory=dict, compare=False, repr=False
    )

    def bind(self, layout: Sequence[str]) -> Rule:
        """The rule compiled against a registry's window columns (`layout`: feature ids of
        its trigger kind, in column order), so equal features share one column."""
        if not self.windows:
            return self
        return _compile(self.spec, self.lines, self.source, tuple(layout))

    @cached_property
    def key(self) -> str:
        return f"{self.spec.id}@{self.spec.version}"

    @cached_property
    def gates(self) -> dict[int, float]:
        """{feature index: lower bound} every firing row reaches: the `gt`/`gte` clauses of
        `when` and the top-level `and` of `feature >= c` in `condition` (see Registry.gate)."""
        bounds: dict[int, float] = {}
        for index, op, value in self.all_of:
            if op in ("gt", "gte"):
                bounds[index] = max(bounds.get(index, float("-inf")), value)
        if self.condition is not None:
            for index, value in self.condition.gates().items():
                bounds[index] = max(bounds.get(index, float("-inf")), value)
        return bounds

    @cached_property
    def bounds(self) -> dict[tuple[int, int], float]:
        """Bounds every firing row meets, each as a lower bound on a signed value:
        `(column, 1): b` is `value >= b`, `(column, -1): b` is `-value >= b` (value at most
        -b). From `when` and the top-level `and` of `condition`: `>`, `>=` bound from below,
        `<`, `<=` from above, `==` both (strictness dropped: bounds may pass a row the rule
        does not fire on, never the reverse). What the number-side screen checks."""
        compares = list(self.all_of)
        if self.condition is not None:
            compares += [item.key for item in self.condition.conjuncts()]
        bounds: dict[tuple[int, int], float] = {}
        for index, op, value in compares:
            for sign, ops in ((1, ("gt", "gte", "eq")), (-1, ("lt", "lte", "eq"))):
                if op in ops:
                    key = (index, sign)
                    bounds[key] = max(bounds.get(key, float("-inf")), sign * value)
        return bounds

    @property
    def pages(self) -> bool:
        """Only stable rules reach the desk; the others score and are counted."""
        return self.spec.status == "stable"

    def matches(self, row: Sequence[float]) -> bool:
        """Scalar evaluation of one feature row (the number side runs per event)."""
        return matches(self, row)

    def reasons(self, row: Sequence[float]) -> list[str]:
        return render(self.templates, row)


class RuleMatrix:
    """Every rule of one trigger kind over a batch's feature matrix in a few numpy calls.

    Checking rule by rule cost several numpy calls per rule per batch, a fixed cost that
    grew with the registry whatever the batch held. Here every distinct comparison is one
    row of a clause matrix, built with one broadcast comparison per (feature, operator);
    the `when` clauses of all rules are then ANDed in one `reduceat` over a gather of that
    matrix, and the `any` groups likewise, ORed per rule. A `condition` is an expression
    tree, evaluated per distinct condition on the clause matrix's rows (variants of one
    rule that differ in their `when` thresholds share their condition's mask)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        keys: set[ClauseKey] = set()
        for rule in self.rules:
            keys.update(rule.all_of)
            keys.update(key for group in rule.any_of for key in group)
            if rule.condition is not None:
                keys.update(leaf.key for leaf in rule.condition.leaves())
        self._position = {key: p for p, key in enumerate(sorted(keys))}
        groups: dict[tuple[int, str], list[tuple[int, float]]] = {}
        for key, p in self._position.items():
            groups.setdefault((key[0], key[1]), []).append((p, key[2]))
        self._groups = tuple(
            (
                index,
                _OPS[op],
                np.array([p for p, _ in members], dtype=np.intp),
                np.array([[v] for _, v in members], dtype=np.float64),
            )
            for (index, op), members in groups.items()
        )
        self._when = _Conjunctions([rule.all_of for rule in self.rules], self._position)
        groups_of = [(r, g) for r, rule in enumerate(self.rules) for g in rule.any_of]
        self._any_rules = np.array([r for r, _ in groups_of], dtype=np.intp)
        self._any = _Conjunctions([g for _, g in groups_of], self._position)
        self._has_any = np.array([bool(rule.any_of) for rule in self.rules], dtype=bool)
        # rules sharing a condition (variants differing in their `when` thresholds)
        # grouped once here: a condition tree hashes recursively, so grouping per batch
        # had cost 3 % of the engine's time with 215 rules
        by_root: dict[object, tuple[Condition, list[int]]] = {}
        for r, rule in enumerate(self.rules):
            if rule.condition is not None:
                by_root.setdefault(rule.condition.root, (rule.condition, []))[1].append(r)
        self._conditions = tuple(
            (condition, np.array(rows, dtype=np.intp)) for condition, rows in by_root.values()
        )

    def masks(self, matrix: np.ndarray) -> np.ndarray:
        """(rules × rows) booleans: which rule fires on which row."""
        clauses = np.empty((len(self._position), matrix.shape[0]), dtype=bool)
        for index, op, positions, values in self._groups:
            clauses[positions] = op(matrix[:, index], values)
        out = self._when.evaluate(clauses)
        if len(self._any_rules):
            groups = self._any.evaluate(clauses)
            either = np.zeros_like(out)
            np.logical_or.at(either, self._any_rules, groups)
            out[self._has_any] &= either[self._has_any]
        if self._conditions:
            position = self._position

            def clause(key: ClauseKey) -> np.ndarray:
                row: np.ndarray = clauses[position[key]]
                return row

            for condition, rows in self._conditions:
                out[rows] &= condition.mask(clause)
        return out


class _Conjunctions:
    """ANDs of clause rows, one per item (an empty item is true everywhere)."""

    def __init__(self, items: Sequence[Sequence[ClauseKey]], position: Mapping[ClauseKey, int]):
        self.size = len(items)
        filled = [i for i, item in enumerate(items) if item]
        self.filled = np.array(filled, dtype=np.intp)
        flat = [position[key] for i in filled for key in items[i]]
        self.flat = np.array(flat, dtype=np.intp)
        starts, at = [], 0
        for i in filled:
            starts.append(at)
            at += len(items[i])
        self.starts = np.array(starts, dtype=np.intp)

    def evaluate(self, clauses: np.ndarray) -> np.ndarray:
        out = np.ones((self.size, clauses.shape[1]), dtype=bool)
        if len(self.filled) and clauses.shape[1]:
            out[self.filled] = np.logical_and.reduceat(clauses[self.flat], self.starts, axis=0)
        return out


def _compile_clauses(
    clauses: Clauses, names: tuple[str, ...], where: str, line: Callable[[str], int], file: str
) -> tuple[ClauseKey, ...]:
    keys: list[ClauseKey] = []
    for feature, ops in clauses.items():
        if feature not in names:
            raise RuleError(
                f"{file}:{line(feature)}: {where}: unknown feature '{feature}' "
                f"(expected one of: {', '.join(names)})"
            )
        if not ops:
            raise RuleError(f"{file}:{line(feature)}: {where}.{feature}: no comparison given")
        keys.extend((names.index(feature), op, float(v)) for op, v in ops.items())
    return tuple(keys)


def _compile_template(
    text: str, names: tuple[str, ...], file: str, line: int
) -> tuple[str, tuple[tuple[str, int, float, str], ...]]:
    slots = []
    for match in _PLACEHOLDER.finditer(text):
        name, divisor, fmt = match.group(1), match.group(2), match.group(3) or ""
        if name not in names:
            raise RuleError(f"{file}:{line}: reasons: unknown feature '{name}' in template")
        div = float(divisor) if divisor else 1.0
        if div == 0:
            raise RuleError(f"{file}:{line}: reasons: division by zero in '{match.group(0)}'")
        slots.append((match.group(0), names.index(name), div, fmt))
    if _BRACE.search(_PLACEHOLDER.sub("", text)):
        raise RuleError(
            f"{file}:{line}: reasons: malformed placeholder in {text!r} "
            "(use {feature}, {feature:.1f} or {feature/60:.0f})"
        )
    return text, tuple(slots)


def compile_rule(data: Any, lines: Mapping[tuple[str | int, ...], int], file: str) -> Rule:
    """Validate one rule document and compile it; RuleError names file:line."""
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        raise RuleError(schema_error(exc, lines, file, RuleSpec.model_fields, "rule")) from None
    return _compile(spec, lines, file, None)


def _windows(
    spec: RuleSpec, lines: Mapping[tuple[str | int, ...], int], file: str
) -> tuple[tuple[str, WindowSpec], ...]:
    side = KIND_SIDE[spec.on]
    catalogue = CATALOGUE[spec.on]
    out: list[tuple[str, WindowSpec]] = []
    seen: dict[str, str] = {}
    for name, text in spec.features.items():
        where = f"{file}:{line_of(lines, ('features', name))}: features.{name}"
        if name in catalogue:
            raise RuleError(f"{where}: '{name}' is already a feature of '{spec.on}' rules")
        try:
            window = parse_feature(text, side)
        except WindowError as exc:
            raise RuleError(f"{where}: {exc}") from None
        if window.fid in seen:
            raise RuleError(f"{where}: the same feature as '{seen[window.fid]}': use one name")
        seen[window.fid] = name
        out.append((name, window))
    return tuple(out)


def _compile(
    spec: RuleSpec,
    lines: Mapping[tuple[str | int, ...], int],
    file: str,
    layout: tuple[str, ...] | None,
) -> Rule:
    windows = _windows(spec, lines, file)
    names = CATALOGUE[spec.on]
    if layout is None:
        names += tuple(name for name, _ in windows)
    else:
        by_fid = {w.fid: name for name, w in windows}
        names += tuple(by_fid.get(fid, f"#{fid}") for fid in layout)

    def feature_line(*loc: str | int) -> Callable[[str], int]:
        return lambda feature: line_of(lines, (*loc, feature))

    all_of = _compile_clauses(spec.when, names, "when", feature_line("when"), file)
    any_of = tuple(
        _compile_clauses(group, names, f"any[{i}]", feature_line("any", i), file)
        for i, group in enumerate(spec.any)
    )
    templates = tuple(
        _compile_template(text, names, file, line_of(lines, ("reasons", i)))
        for i, text in enumerate(spec.reasons)
    )
    condition = None
    if spec.condition is not None:
        try:
            condition = parse(spec.condition, names, spec.on)
        except ExprError as exc:
            raise RuleError(f"{file}:{line_of(lines, ('condition',))}: condition: {exc}") from None
    test_lines = tuple(line_of(lines, ("tests", i)) for i in range(len(spec.tests)))
    return Rule(spec, file, all_of, any_of, templates, test_lines, condition, names, windows, lines)


def rule_documents(path: Path) -> list[tuple[Any, Mapping[tuple[str | int, ...], int]]]:
    """(data, {path: line}) of every rule in one YAML file: one per document, or one per
    item of a document that is a list. YamlError becomes RuleError."""
    try:
        documents = load_file(path)
    except YamlError as exc:
        raise RuleError(str(exc)) from None
    out: list[tuple[Any, Mapping[tuple[str | int, ...], int]]] = []
    for data, lines in documents:
        if isinstance(data, list):
            for i, item in enumerate(data):
                out.append((item, {k[1:]: v for k, v in lines.items() if k[:1] == (i,)}))
        else:
            out.append((data, lines))
    return out


def load_rule_file(path: Path) -> list[Rule]:
    """Rules in one YAML file (one document per rule, or a list of rules)."""
    file = str(path)
    return [compile_rule(data, lines, file) for data, lines in rule_documents(path)]


__all__ = [
    "PRIORITY_RANK",
    "GateScreen",
    "Rule",
    "RuleError",
    "RuleMatrix",
    "RuleSpec",
    "RuleTest",
    "compile_rule",
    "load_rule_file",
    "rule_documents",
]
